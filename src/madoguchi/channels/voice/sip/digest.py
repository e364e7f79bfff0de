"""Digest authentication for REGISTER (RFC 3261 §22.4 with RFC 2617 MD5 and qop=auth).

Nonces carry their own time stamp and an HMAC of it, so the registrar keeps no nonce table; a
nonce older than ``nonce_ttl_s`` gets a fresh challenge with ``stale=true``."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from madoguchi.channels.voice.sip.message import parse_params


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def ha1(username: str, realm: str, password: str) -> str:
    return md5_hex(f"{username}:{realm}:{password}")


def digest_response(*, ha1_hex: str, nonce: str, method: str, uri: str, qop: str | None = None,
                    nc: str | None = None, cnonce: str | None = None) -> str:
    ha2 = md5_hex(f"{method}:{uri}")
    if qop:
        return md5_hex(f"{ha1_hex}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return md5_hex(f"{ha1_hex}:{nonce}:{ha2}")


@dataclass(frozen=True)
class Verdict:
    username: str | None
    stale: bool = False


class DigestAuth:
    def __init__(self, realm: str, secret: bytes, *, nonce_ttl_s: float = 300.0,
                 now: Callable[[], float] = time.time) -> None:
        self.realm = realm
        self._secret = secret
        self._ttl = nonce_ttl_s
        self._now = now

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._secret, stamp.encode(), "sha256").hexdigest()[:24]

    def challenge(self, *, stale: bool = False) -> str:
        stamp = f"{int(self._now()):x}"
        nonce = f"{stamp}.{self._sign(stamp)}"
        return (f'Digest realm="{self.realm}", nonce="{nonce}", algorithm=MD5, qop="auth"'
                + (", stale=true" if stale else ""))

    def verify(self, authorization: str | None, method: str, lookup: Callable[[str], str | None]) -> Verdict:
        """``lookup`` gives the stored HA1 of a user name (None: unknown user)."""
        if not authorization or not authorization.lower().startswith("digest "):
            return Verdict(None)
        params = parse_params(authorization[7:].replace(",", ";"))
        username, nonce, uri, response = (params.get(k) for k in ("username", "nonce", "uri", "response"))
        if not (username and nonce and uri and response) or params.get("realm") != self.realm:
            return Verdict(None)
        if params.get("algorithm", "MD5").upper() != "MD5":
            return Verdict(None)
        stamp, _, signature = nonce.partition(".")
        if not hmac.compare_digest(signature, self._sign(stamp)):
            return Verdict(None)
        stored = lookup(username)
        if stored is None:
            return Verdict(None)
        qop = params.get("qop")
        if qop not in (None, "auth"):
            return Verdict(None)
        expected = digest_response(ha1_hex=stored, nonce=nonce, method=method, uri=uri, qop=qop,
                                   nc=params.get("nc"), cnonce=params.get("cnonce"))
        if not hmac.compare_digest(expected, response.lower()):
            return Verdict(None)
        try:
            issued = int(stamp, 16)
        except ValueError:
            return Verdict(None)
        if self._now() - issued > self._ttl:
            return Verdict(None, stale=True)  # right password, old nonce: the phone retries silently
        return Verdict(username)
