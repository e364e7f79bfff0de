"""Mail not written by a person: bounces, auto-replies, mailing lists, reports. Such mail is still
threaded and shown, but never answered automatically (that is how mail loops start)."""

from __future__ import annotations

import re
from enum import StrEnum

from madoguchi.channels.email.mime import ParsedEmail


class AutoKind(StrEnum):
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    LIST = "list"
    REPORT = "report"


_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)
_NO_REPLY = re.compile(r"^(no-?reply|do-?not-?reply|noreply-[^@]*|bounces?(\+[^@]*)?|mailer-daemon|postmaster)@",
                       re.IGNORECASE)
_AUTO_SUBJECT = re.compile(r"^(auto(matic)?[ -]?(reply|response)|out of (the )?office|autoreply|自動(返信|応答)|不在)",
                           re.IGNORECASE)


def classify(parsed: ParsedEmail, *, mail_from: str) -> AutoKind | None:
    """An ordered list of rules: the first that matches names the kind (None: a person wrote it)."""
    headers = parsed.headers
    report = (parsed.report_type or "").lower()
    if report == "delivery-status" or mail_from in ("", "<>") or (
            parsed.from_addr and _DAEMONS.match(parsed.from_addr)):
        return AutoKind.BOUNCE
    if report:
        return AutoKind.REPORT
    auto = headers.get("auto-submitted", "").strip().lower()
    precedence = headers.get("precedence", "").strip().lower()
    if (auto and auto != "no") or "x-autoreply" in headers or "x-autorespond" in headers \
            or precedence == "auto_reply" or _AUTO_SUBJECT.match(parsed.subject.strip()):
        return AutoKind.AUTO_REPLY
    if precedence in ("list", "bulk", "junk") or any(k in headers for k in ("list-id", "list-unsubscribe",
                                                                           "list-post", "x-mailman-version")):
        return AutoKind.LIST
    return None


def is_unanswerable(address: str | None) -> bool:
    """An address that does not read replies (no-reply, daemons, bounce handlers)."""
    return not address or bool(_NO_REPLY.match(address))
