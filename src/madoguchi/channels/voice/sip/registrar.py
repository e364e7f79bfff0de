"""Registrations of agent phones (RFC 3261 §10.3): address of record → contact, with expiry."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 7200


@dataclass(frozen=True)
class Binding:
    aor: str          # the user part: the SIP account's user name
    contact: str      # the Contact URI to send INVITEs to
    address: tuple[str, int]
    expires_at: float


class Registrar:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._bindings: dict[str, Binding] = {}

    def register(self, aor: str, contact: str, address: tuple[str, int], expires: int) -> int:
        """Add or refresh (expires > 0) or remove (0) the binding; returns the granted expiry."""
        if expires <= 0:
            self._bindings.pop(aor, None)
            return 0
        granted = max(MIN_EXPIRES, min(expires, MAX_EXPIRES))
        self._bindings[aor] = Binding(aor, contact, address, self._now() + granted)
        return granted

    def __len__(self) -> int:
        return len(self._bindings)

    def lookup(self, aor: str) -> Binding | None:
        binding = self._bindings.get(aor)
        if binding is not None and binding.expires_at <= self._now():
            del self._bindings[aor]
            return None
        return binding
