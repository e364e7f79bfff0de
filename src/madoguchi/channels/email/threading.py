"""Which contact an inbound email belongs to: an ordered list of rules, the first match wins
(docs/email.md, "Threading"). Named after the domain's word for it; not Python's threading."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select

from madoguchi.channels.email.directory import reply_token
from madoguchi.channels.email.mime import ParsedEmail
from madoguchi.channels.email.models import EmailMessage, EmailThread
from madoguchi.contacts.models import Case, Contact
from madoguchi.customers.queries import customer_ids_of
from madoguchi.db.uow import UnitOfWork

CASE_REF = re.compile(r"\[#(\d{1,12})\]")
_RE_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|sv|vs|antw|返信|転送)\s*(\[\d+\])?\s*[:：]\s*)+", re.IGNORECASE)


def new_token() -> str:
    """Lower-case only: mail systems may change the case of an address's local part."""
    return secrets.token_hex(12)


def case_tag(case_id: int) -> str:
    return f"[#{case_id}]"


def base_subject(subject: str) -> str:
    """The subject without reply prefixes and our case tag."""
    return CASE_REF.sub("", _RE_PREFIX.sub("", subject or "")).strip()


def reply_subject(subject: str, case_id: int) -> str:
    base = base_subject(subject)
    return f"Re: {base} {case_tag(case_id)}" if base else f"Re: {case_tag(case_id)}"


async def _by_token(uow: UnitOfWork, entry_point_id: int, recipients: list[str]) -> int | None:
    tokens = [t for t in (reply_token(r) for r in recipients) if t]
    if not tokens:
        return None
    contact_id: int | None = await uow.session.scalar(
        select(EmailThread.contact_id).where(EmailThread.reply_token.in_(tokens),
                                             EmailThread.entry_point_id == entry_point_id).limit(1))
    return contact_id


async def _by_headers(uow: UnitOfWork, entry_point_id: int, parsed: ParsedEmail) -> int | None:
    ids = _header_ids(parsed)
    if not ids:
        return None
    rows = (await uow.session.execute(select(EmailMessage.message_id, EmailMessage.contact_id).where(
        EmailMessage.entry_point_id == entry_point_id, EmailMessage.message_id.in_(ids)))).all()
    found = dict(rows)
    for message_id in ids:
        if message_id in found:
            contact_id: int = found[message_id]
            return contact_id
    return None


async def _by_case_tag(uow: UnitOfWork, entry_point_id: int, parsed: ParsedEmail, customer_id: int) -> int | None:
    match = CASE_REF.search(parsed.subject or "")
    if match is None:
        return None
    case = await uow.session.get(Case, int(match.group(1)))
    if case is None or case.customer_id not in await customer_ids_of(uow.session, customer_id):
        return None  # a case number alone proves nothing: it must be this customer's
    contact_id: int | None = await uow.session.scalar(
        select(func.max(Contact.id)).where(Contact.case_id == case.id, Contact.entry_point_id == entry_point_id))
    return contact_id


async def find_contact(uow: UnitOfWork, *, entry_point_id: int, recipients: list[str], parsed: ParsedEmail,
                       customer_id: int) -> Contact | None:
    """The contact the email continues (the newest email contact of its case), locked; or None."""
    contact_id = (await _by_token(uow, entry_point_id, recipients)
                  or await _by_headers(uow, entry_point_id, parsed)
                  or await _by_case_tag(uow, entry_point_id, parsed, customer_id))
    if contact_id is None:
        return None
    found = await uow.session.get(Contact, contact_id)
    if found is None:
        return None
    # A later contact may continue the same case (a reply after the first one was closed).
    newest = await uow.session.scalar(select(func.max(Contact.id)).where(
        Contact.case_id == found.case_id, Contact.entry_point_id == entry_point_id, Contact.channel_kind == "email"))
    return await uow.session.get(Contact, newest or found.id, with_for_update=True)


def _header_ids(parsed: ParsedEmail) -> list[str]:
    return [i for i in [parsed.in_reply_to, *reversed(parsed.references), *parsed.returned_ids] if i][:60]


async def may_continue(uow: UnitOfWork, items: list[tuple[int, list[str], ParsedEmail]]) -> list[bool]:
    """For each (entry point, recipients, email) of a batch: could the email continue a contact? With
    one query for the whole batch. ``False`` is certain (it opens a new thread); ``True`` only means
    that find_contact must decide. An email whose headers name an earlier email of the same batch is
    ``True`` too, so it is threaded after that one is written."""
    wanted = {i for _, _, parsed in items for i in _header_ids(parsed)}
    stored: set[tuple[int, str]] = set()
    if wanted:
        rows = await uow.session.execute(select(EmailMessage.entry_point_id, EmailMessage.message_id)
                                         .where(EmailMessage.message_id.in_(wanted)))
        stored = {(ep_id, message_id) for ep_id, message_id in rows if message_id is not None}
    earlier: set[tuple[int, str]] = set()
    answers = []
    for entry_point_id, recipients, parsed in items:
        answers.append(any(reply_token(r) for r in recipients) or CASE_REF.search(parsed.subject or "") is not None
                       or any((entry_point_id, i) in stored or (entry_point_id, i) in earlier
                              for i in _header_ids(parsed)))
        if parsed.message_id:
            earlier.add((entry_point_id, parsed.message_id))
    return answers
