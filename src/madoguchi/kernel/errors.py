"""Domain errors with a stable error_id, mapped to HTTP once at the edge (api/errors.py)."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    error_id: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    error_id = "invalid_input"
    status = 422


class NotFound(DomainError):
    error_id = "not_found"
    status = 404

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} does not exist", kind=kind, key=str(key))


class NotAuthenticated(DomainError):
    error_id = "not_authenticated"
    status = 401


class PermissionDenied(DomainError):
    error_id = "permission_denied"
    status = 403


class CsrfFailed(DomainError):
    error_id = "csrf_failed"
    status = 403


class Conflict(DomainError):
    error_id = "conflict"
    status = 409


class TooManyRequests(DomainError):
    error_id = "rate_limited"
    status = 429


class PayloadTooLarge(DomainError):
    error_id = "payload_too_large"
    status = 413


class Unavailable(DomainError):
    """The server cannot do it now (it is stopping, or lost a part); the same request may succeed
    when sent again."""

    error_id = "unavailable"
    status = 503


class IllegalTransition(Conflict):
    error_id = "illegal_transition"

    def __init__(self, machine: str, state: str, move: str) -> None:
        super().__init__(f"{machine}: cannot {move} from {state}", machine=machine, state=state, move=move)


class IdentityRejected(DomainError):
    error_id = "identity_rejected"
    status = 403
