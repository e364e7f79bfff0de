"""An IMAP mailbox as the poller needs it (aioimaplib): log in, select, find unseen messages past a
UID, fetch them without side effects (BODY.PEEK), flag or move them once stored, wait with IDLE."""

from __future__ import annotations

import asyncio
import contextlib
import re
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
    security: str            # ssl | none
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
            self.client = aioimaplib.IMAP4_SSL(host=cfg.host, port=cfg.port, timeout=cfg.timeout_s)
        else:
            self.client = aioimaplib.IMAP4(host=cfg.host, port=cfg.port, timeout=cfg.timeout_s)
        await self.client.wait_hello_from_server()
        _check(await self.client.login(cfg.username, cfg.password), "login")
        selected = _check(await self.client.select(cfg.folder), f"select {cfg.folder}")
        found = [m for m in (_UIDVALIDITY.search(bytes(line)) for line in selected.lines) if m]
        if not found:
            raise ImapError("the server sent no UIDVALIDITY")
        self.uidvalidity = int(found[0].group(1))

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
