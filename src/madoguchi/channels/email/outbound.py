"""Building outgoing messages: headers that thread in every client (Message-ID, In-Reply-To,
References, the case tag in the subject), text with an optional HTML alternative, attachments."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from datetime import datetime
from email import encoders, policy
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from madoguchi.channels.email.html import sanitize_html

MAX_REFERENCES = 20


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Outgoing:
    from_addr: str
    from_name: str | None
    to: list[str]
    subject: str
    text: str
    domain: str
    date: datetime
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: str | None = None
    html: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    auto_submitted: bool = False
    attachments: list[OutgoingAttachment] = field(default_factory=list)


@dataclass(frozen=True)
class Built:
    raw: bytes
    message_id: str
    references: list[str]
    html: str | None


def _header(value: str) -> str:
    """ASCII as it is; anything else as RFC 2047 UTF-8 encoded words (folded)."""
    return value if value.isascii() else Header(value, "utf-8").encode(maxlinelen=76, linesep="\r\n")


def _address(addr: str, name: str | None = None) -> str:
    if not name:
        return addr
    if name.isascii():
        return email.utils.formataddr((name, addr))
    # One encoded word: some parsers put a space between the words of a split display name.
    return f"{Header(name, 'utf-8').encode(maxlinelen=998)} <{addr}>"


def thread_references(parent_references: list[str], parent_id: str | None) -> list[str]:
    """The parent's References plus the parent, oldest first, at most MAX_REFERENCES (the first is
    kept: it names the thread's root)."""
    chain = [r for r in parent_references if r]
    if parent_id and parent_id not in chain:
        chain.append(parent_id)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1):]]
    return chain


def _part(data: bytes, content_type: str, filename: str) -> MIMEBase:
    maintype, _, subtype = content_type.partition("/")
    part = MIMEBase(maintype, subtype or "octet-stream")
    part.set_payload(data)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename)
                    if not filename.isascii() else filename)
    return part


def build(out: Outgoing) -> Built:
    """The complete message bytes. Bcc recipients are envelope-only: never in a header.

    Built with the compat32 classes: the modern policy's header refolding costs ~20 ms a message,
    which the ingest path (auto-acknowledgements) cannot afford."""
    message_id = email.utils.make_msgid(domain=out.domain)[1:-1]
    text = MIMEText(out.text, "plain", "utf-8")
    html = sanitize_html(out.html) if out.html else None
    body: Message = text
    if html:
        body = MIMEMultipart("alternative")
        body.attach(text)
        body.attach(MIMEText(html, "html", "utf-8"))
    msg: Message = body
    if out.attachments:
        msg = MIMEMultipart("mixed")
        msg.attach(body)
        for attachment in out.attachments:
            msg.attach(_part(attachment.data, attachment.content_type, attachment.filename))
    headers = [("Message-ID", f"<{message_id}>"), ("Date", email.utils.format_datetime(out.date)),
               ("From", _address(out.from_addr, out.from_name)), ("To", ", ".join(out.to))]
    if out.cc:
        headers.append(("Cc", ", ".join(out.cc)))
    if out.reply_to:
        headers.append(("Reply-To", _address(out.reply_to, out.from_name)))
    headers.append(("Subject", _header(out.subject)))
    if out.in_reply_to:
        headers.append(("In-Reply-To", f"<{out.in_reply_to}>"))
    if out.references:
        # One id per folded line: long ids must never be broken (msg_48 in the corpus).
        headers.append(("References", "\r\n ".join(f"<{r}>" for r in out.references)))
    if out.auto_submitted:
        # RFC 3834: tells other robots not to answer, which is what stops mail loops.
        headers += [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")]
    for name, value in headers:
        msg[name] = value
    raw = msg.as_bytes(policy=_WIRE)
    return Built(raw=raw, message_id=message_id, references=out.references, html=html)


#: compat32 with CRLF line ends, no refolding of the header values set above.
_WIRE = policy.compat32.clone(linesep="\r\n", max_line_length=0)
