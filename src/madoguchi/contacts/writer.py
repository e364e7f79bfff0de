"""The chat message path with group commit.

Messages from many conversations arrive at once; writing each in its own transaction makes the
database's commit the bottleneck. The writer drains what is waiting, validates each post against
its contact, writes the batch in one transaction, and only after the commit publishes the events
and answers the senders. A post that fails validation fails alone; the others land.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select

from madoguchi.contacts import events
from madoguchi.contacts.models import Contact, Message
from madoguchi.contacts.states import HANDLING_STATES, OPEN_STATES
from madoguchi.db.uow import Database
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm, has
from madoguchi.kernel.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessagePost:
    contact_id: int
    author_kind: str                 # "customer" or "agent"
    body: str
    kind: str = "text"               # "text" or "note" (internal, agents only)
    author: User | None = None
    client_msg_id: str | None = None


@dataclass
class _Pending:
    post: MessagePost
    future: asyncio.Future[Message] = field(repr=False)


def check_post(post: MessagePost, contact: Contact | None, *, max_chars: int) -> None:
    """Whether ``post`` may be written to ``contact``; raises the typed error that says why not."""
    if contact is None:
        raise NotFound("contact", post.contact_id)
    body = post.body.strip()
    if not body:
        raise InvalidInput("a message needs some text", field="body")
    if len(post.body) > max_chars:
        raise InvalidInput(f"a message may have at most {max_chars} characters", field="body")
    if post.author_kind == "customer":
        if post.kind != "text":
            raise PermissionDenied("customers send text messages only")
        if contact.state not in OPEN_STATES:
            raise Conflict("this conversation has ended", state=contact.state)
        return
    author = post.author
    if author is None:
        raise PermissionDenied("an agent message needs its author")
    if post.kind == "note":
        if contact.agent_id != author.id and not has(author.role, Perm.READ_ALL_CONTACTS):
            raise PermissionDenied("only the handling agent or a supervisor may add notes here")
        return
    if contact.agent_id != author.id:
        raise PermissionDenied("you are not handling this contact")
    if contact.state not in HANDLING_STATES:
        raise Conflict("this contact is not active", state=contact.state)


class MessageWriter:
    def __init__(self, db: Database, *, max_chars: int, max_batch: int = 500) -> None:
        self.db = db
        self.max_chars = max_chars
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="message-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(Conflict("the server is shutting down; send again"))

    async def post(self, post: MessagePost) -> Message:
        """Write one message; returns it once it is committed (and its event is published)."""
        if self._task is None:
            raise RuntimeError("message writer not started")
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(post, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception as exc:
                logger.exception("message batch of %s failed", len(batch))
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)

    async def _write(self, batch: list[_Pending]) -> None:
        results: list[tuple[_Pending, Message | DomainError]] = []
        async with self.db.uow() as uow:
            ids = {p.post.contact_id for p in batch}
            contacts = {c.id: c for c in (await uow.session.scalars(select(Contact).where(Contact.id.in_(ids))))}
            keys = [(p.post.contact_id, p.post.client_msg_id) for p in batch if p.post.client_msg_id]
            seen: dict[tuple[int, str | None], Message] = {}
            if keys:
                # Spelled as OR of pairs, not a row-value IN: SQLite answers the latter by scanning
                # the whole index, the former with one index seek per pair.
                stmt = select(Message).where(or_(*(and_(Message.contact_id == c, Message.client_msg_id == m)
                                                   for c, m in keys)))
                seen = {(m.contact_id, m.client_msg_id): m for m in await uow.session.scalars(stmt)}
            fresh: list[tuple[_Pending, Message]] = []
            now = uow.clock.now()
            for pending in batch:
                post = pending.post
                key = (post.contact_id, post.client_msg_id)
                if post.client_msg_id and key in seen:
                    results.append((pending, seen[key]))  # a resend after a lost ack: same message
                    continue
                contact = contacts.get(post.contact_id)
                try:
                    check_post(post, contact, max_chars=self.max_chars)
                except DomainError as error:
                    results.append((pending, error))
                    continue
                message = Message(contact_id=post.contact_id, kind=post.kind, author_kind=post.author_kind,
                                  author_user_id=post.author.id if post.author else None, body=post.body,
                                  client_msg_id=post.client_msg_id, created_at=now)
                uow.session.add(message)
                if post.client_msg_id:
                    seen[key] = message
                fresh.append((pending, message))
                results.append((pending, message))
            if fresh:
                await uow.session.flush()
            for pending, message in fresh:
                contact = contacts[message.contact_id]
                author_name = pending.post.author.display_name if pending.post.author else None
                uow.emit(events.message_created(contact, message, author_name))
        for pending, outcome in results:
            if pending.future.done():
                continue
            if isinstance(outcome, DomainError):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)
