"""Signed visitor identities: the site computes hex(HMAC-SHA256(entry point secret, identifier))
on its server and passes both to the widget; we trust the identifier only if the signature matches."""

from __future__ import annotations

import hashlib
import hmac


def sign_identity(secret: str, identifier: str) -> str:
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def verify_identity(secret: str, identifier: str, signature: str) -> bool:
    return hmac.compare_digest(sign_identity(secret, identifier), signature.strip().lower())
