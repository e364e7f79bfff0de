"""An IMAP mailbox as the poller needs it (aioimaplib): log in, select, find unseen messages past a
UID, fetch them without side effects (BODY.PEEK), flag or move them once stored, wait with IDLE."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from dataclasses import dataclass
from typing import Any

import aioimaplib

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_RETURN_PATH = re.compile(rb"^Return-Path:[ \t]*<([^>\r\n]*)>", re.IGNORECASE | re.MULTILINE)


class ImapError(Exception):
    pass


@dataclass(frozen=True)
class MailboxConfig:
    host: str
    port: int
    security: str            # ssl | starttls | none
    username: str
    password: str
    folder: str = "INBOX"
    processed_folder: str | None = None
    timeout_s: float = 30.0


def envelope_sender(raw: bytes) -> str:
    """The Return-Path the delivering server recorded ("" for a bounce's null sender)."""
    head = raw[:65536].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = _RETURN_PATH.search(head)
    return match.group(1).decode("ascii", "replace").lower() if match else "(imap)"


def tls_context() -> ssl.SSLContext:
    """The certificate and the host name are always checked, against the system's CAs, or the CA
    bundle named by OpenSSL's ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` for a private CA. Built here
    rather than left to aioimaplib's default so that no library change can turn the check off."""
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)


def _check(response: Any, what: str) -> Any:
    if response.result != "OK":
        raise ImapError(f"{what}: {response.result} {b' '.join(bytes(x) for x in response.lines)[:300]!r}")
    return response


class ImapSession:
    def __init__(self, config: MailboxConfig) -> None:
        self.config = config
        self.client: Any = None
        self.uidvalidity: int | None = None

    async def open(self) -> None:
        cfg = self.config
        if cfg.security == "ssl":
            self.client = aioimaplib.IMAP4_SSL(host=cfg.host, port=cfg.port, timeout=cfg.timeout_s,
                                               ssl_context=tls_context())
        else:
            self.client = aioimaplib.IMAP4(host=cfg.host, port=cfg.port, timeout=cfg.timeout_s)
        await self.client.wait_hello_from_server()
        if cfg.security == "starttls":
            await self._start_tls()
        _check(await self.client.login(cfg.username, cfg.password), "login")
        selected = _check(await self.client.select(cfg.folder), f"select {cfg.folder}")
        found = [m for m in (_UIDVALIDITY.search(bytes(line)) for line in selected.lines) if m]
        if not found:
            raise ImapError("the server sent no UIDVALIDITY")
        self.uidvalidity = int(found[0].group(1))

    async def _start_tls(self) -> None:
        """STARTTLS (RFC 3501 6.2.1). aioimaplib has no command for it, so its connection is upgraded
        here: the same protocol object reads and writes through the TLS transport from then on. A
        server that does not offer it is an error, never a silent fall back to plain text."""
        protocol = self.client.protocol
        # Decide on the server's answer to CAPABILITY, not on whatever the greeting happened to
        # carry (some servers list no capabilities there).
        await asyncio.wait_for(protocol.capability(), self.config.timeout_s)
        if "STARTTLS" not in protocol.capabilities:
            raise ImapError("the server does not offer STARTTLS")
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        _check(await asyncio.wait_for(protocol.execute(command), self.config.timeout_s), "starttls")
        loop = asyncio.get_running_loop()
        protocol.transport = await loop.start_tls(protocol.transport, protocol, tls_context(),
                                                  server_hostname=self.config.host,
                                                  ssl_handshake_timeout=self.config.timeout_s)
        # What the server announced before the handshake could have been forged: ask again.
        await asyncio.wait_for(protocol.capability(), self.config.timeout_s)

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.logout(), 5)
            self.client = None

    async def unseen_after(self, last_uid: int) -> list[int]:
        response = _check(await self.client.uid_search(f"UID {last_uid + 1}:*", "UNSEEN", charset=None), "search")
        uids: list[int] = []
        for line in response.lines[:-1]:
            uids.extend(int(x) for x in bytes(line).split() if x.isdigit())
        return sorted(u for u in set(uids) if u > last_uid)   # "n:*" always names the last message

    async def fetch(self, uid: int) -> bytes:
        response = _check(await self.client.uid("fetch", str(uid), "(BODY.PEEK[])"), f"fetch {uid}")
        bodies = [bytes(line) for line in response.lines if isinstance(line, bytearray)]
        if not bodies:
            raise ImapError(f"fetch {uid}: no message body in the answer")
        return bodies[0]

    async def mark_processed(self, uids: list[int]) -> None:
        """Flag \\Seen, or move to the processed folder: only ever after the messages are stored."""
        uid_set = ",".join(map(str, uids))
        folder = self.config.processed_folder
        if folder is None:
            _check(await self.client.uid("store", uid_set, "+FLAGS.SILENT", r"(\Seen)"), "store \\Seen")
            return
        moved = await self.client.uid("move", uid_set, folder)
        if moved.result != "OK":
            _check(await self.client.uid("copy", uid_set, folder), f"copy to {folder}")
            _check(await self.client.uid("store", uid_set, "+FLAGS.SILENT", r"(\Seen \Deleted)"), "store \\Deleted")
            _check(await self.client.expunge(), "expunge")

    def abort(self) -> None:
        """Drop the connection without a goodbye (shutting down in the middle of IDLE)."""
        if self.client is not None:
            transport = getattr(self.client.protocol, "transport", None)
            if transport is not None:
                transport.close()
            self.client = None

    async def wait_for_mail(self, timeout_s: float) -> None:
        """IDLE until the server reports something (or the timeout); a plain sleep without IDLE."""
        if not self.client.has_capability("IDLE"):
            await asyncio.sleep(timeout_s)
            return
        idle = await self.client.idle_start(timeout=timeout_s + 5)
        try:
            with contextlib.suppress(TimeoutError):
                await self.client.wait_server_push(timeout=timeout_s)
        except asyncio.CancelledError:
            idle.cancel()
            self.abort()
            raise
        self.client.idle_done()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(idle, 5)
