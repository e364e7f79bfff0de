"""MIME parsing that never raises: raw bytes in, a ParsedEmail out (with ``parse_error`` set when
the message could not be read, and the text recovered as well as possible)."""

from __future__ import annotations

import email
import email.message
import email.utils
import logging
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email._policybase import Compat32
from typing import Any

from madoguchi.channels.email.charsets import decode_text
from madoguchi.channels.email.headers import (
    address_list,
    format_address,
    message_ids,
    parse_date,
    text_header,
)
from madoguchi.channels.email.html import html_to_text, sanitize_html

logger = logging.getLogger(__name__)

MAX_DEPTH = 25
MAX_TEXT_CHARS = 1_000_000
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


class _RawHeaders(Compat32):
    """compat32 that hands header values back as stored (surrogate escapes for raw 8-bit bytes)
    instead of lossy Header objects: headers.py decodes raw 8-bit values itself."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


RAW_HEADERS = _RawHeaders()


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    disposition: str = "attachment"          # attachment | inline
    content_id: str | None = None


@dataclass
class ParsedEmail:
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_addr: str | None = None
    from_name: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    reply_to: str | None = None
    date: datetime | None = None
    text: str = ""
    html: str | None = None
    charset: str | None = None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    #: Lower-cased header names → decoded values, for the noise rules.
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    report_type: str | None = None
    #: Message-IDs of the message a bounce or report returns.
    returned_ids: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    parse_error: str | None = None


NOISE_HEADERS = ("auto-submitted", "precedence", "list-id", "list-unsubscribe", "list-post", "x-autoreply",
                 "x-autorespond", "x-auto-response-suppress", "x-loop", "x-mailman-version", "sender", "return-path")


@dataclass
class _Body:
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    charset: str | None = None


def _safe_filename(name: str | None, content_type: str, index: int) -> str:
    if name:
        name = _UNSAFE_NAME.sub("_", name).strip(" ._")
        if len(name) > 200:  # cut the stem, keep the extension (what the file opens with)
            _, dot, extension = name.rpartition(".")
            keep = f"{dot}{extension}" if dot and len(extension) <= 16 else ""
            name = name[:200 - len(keep)] + keep
    if not name:
        ext = mimetypes.guess_extension(content_type) or ".bin"
        name = f"attachment-{index}{ext}"
    return name


def _filename(part: email.message.Message) -> str | None:
    try:
        raw = part.get_filename()
    except Exception:  # malformed RFC 2231 parameters
        return None
    return text_header(raw) or None if raw else None


def _payload(part: email.message.Message, into: ParsedEmail) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        into.defects.append(f"undecodable part body ({type(exc).__name__})")
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""


def _message_bytes(part: email.message.Message) -> bytes:
    try:
        return part.as_bytes(policy=policy.compat32)
    except Exception:
        return str(part).encode("utf-8", "surrogateescape")


def _charset(part: email.message.Message) -> str | None:
    value = part.get_param("charset")
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return str(value) if value else None


class _Walker:
    def __init__(self, parsed: ParsedEmail) -> None:
        self.parsed = parsed

    def attach(self, data: bytes, content_type: str, name: str | None, *, disposition: str = "attachment",
               content_id: str | None = None) -> None:
        index = len(self.parsed.attachments) + 1
        self.parsed.attachments.append(ParsedAttachment(
            filename=_safe_filename(name, content_type, index), content_type=content_type[:255], data=data,
            disposition=disposition, content_id=content_id))

    def walk(self, part: email.message.Message, body: _Body, depth: int, *, top: bool = False) -> None:
        if depth > MAX_DEPTH:
            self.parsed.defects.append("parts nested too deep; the rest is in the raw message")
            return
        ctype = part.get_content_type()
        maintype, _, subtype = ctype.partition("/")
        if maintype == "multipart":
            children = part.get_payload()
            if not isinstance(children, list):
                # Declared multipart without usable boundaries: read the body as text.
                self.leaf_text(part, body, "plain")
                return
            if subtype == "report":
                self.parsed.report_type = self.parsed.report_type or str(part.get_param("report-type") or "")
            if subtype == "alternative":
                self.alternative(children, body, depth)
                return
            for child in children:
                if isinstance(child, email.message.Message):
                    self.walk(child, body, depth + 1)
            return
        if ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            if top and isinstance(inner_msg, email.message.Message):
                self.walk(inner_msg, body, depth + 1)   # a forward: the enclosed message is the content
                return
            if isinstance(inner_msg, email.message.Message):
                self.parsed.returned_ids.extend(message_ids(inner_msg.get("Message-ID")))
                subject = text_header(inner_msg.get("Subject"))[:80] or "message"
                self.attach(_message_bytes(inner_msg), "message/rfc822", _filename(part) or subject + ".eml")
            return
        if maintype == "message" or ctype == "text/rfc822-headers":
            data = (b"".join(_message_bytes(p) for p in part.get_payload() if isinstance(p, email.message.Message))
                    if part.is_multipart() else _payload(part, self.parsed))
            if ctype.endswith("rfc822-headers"):
                headers = email.message_from_bytes(data, policy=RAW_HEADERS)
                self.parsed.returned_ids.extend(message_ids(headers.get("Message-ID")))
            self.attach(data, "text/plain", _filename(part) or subtype + ".txt")
            return
        name = _filename(part)
        disposition = part.get_content_disposition()
        if maintype == "text" and subtype in ("plain", "html") and (disposition == "inline" or (
                disposition is None and not name)):
            self.leaf_text(part, body, subtype)
            return
        content_id = next(iter(message_ids(part.get("Content-ID"))), None)
        inline = content_id is not None and disposition != "attachment"
        self.attach(_payload(part, self.parsed), ctype, name, disposition="inline" if inline else "attachment",
                    content_id=content_id)

    def leaf_text(self, part: email.message.Message, body: _Body, subtype: str) -> None:
        decoded = decode_text(_payload(part, self.parsed), _charset(part))
        if decoded.lossy:
            self.parsed.defects.append(f"text not fully decodable as {decoded.charset}")
        body.charset = body.charset or decoded.charset
        (body.htmls if subtype == "html" else body.texts).append(decoded.text)

    def alternative(self, children: list[Any], body: _Body, depth: int) -> None:
        best_text: _Body | None = None
        best_html: _Body | None = None
        for child in children:
            if not isinstance(child, email.message.Message):
                continue
            sub = _Body()
            self.walk(child, sub, depth + 1)
            if sub.texts and best_text is None:
                best_text = sub
            if sub.htmls:
                best_html = sub          # the last alternative is the richest
        if best_text is not None:
            body.texts.extend(best_text.texts)
            body.charset = body.charset or best_text.charset
        if best_html is not None:
            body.htmls.extend(best_html.htmls)
            body.charset = body.charset or best_html.charset


def _addresses(msg: email.message.Message, name: str) -> list[tuple[str | None, str]]:
    return address_list(list(msg.get_all(name) or []))


def _read_headers(msg: email.message.Message, parsed: ParsedEmail) -> None:
    parsed.subject = text_header(msg.get("Subject"))[:2000]
    sender = _addresses(msg, "From") or _addresses(msg, "Sender")
    if sender:
        parsed.from_name, parsed.from_addr = sender[0]
    parsed.to = [format_address(n, a) for n, a in _addresses(msg, "To")][:100]
    parsed.cc = [format_address(n, a) for n, a in _addresses(msg, "Cc")][:100]
    reply_to = _addresses(msg, "Reply-To")
    parsed.reply_to = reply_to[0][1] if reply_to else None
    parsed.message_id = next(iter(message_ids(msg.get("Message-ID"))), None)
    parsed.in_reply_to = next(iter(message_ids(msg.get("In-Reply-To"))), None)
    parsed.references = message_ids(msg.get("References"))[-50:]
    parsed.date = parse_date(msg.get("Date"))
    parsed.content_type = msg.get_content_type()
    for key in NOISE_HEADERS:
        value = msg.get(key)
        if value is not None:
            parsed.headers[key] = text_header(value)[:500]


def clean(text: str) -> str:
    """Text any database stores: no NUL, no lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _clean_all(parsed: ParsedEmail) -> None:
    for name in ("message_id", "in_reply_to", "subject", "from_addr", "from_name", "reply_to", "text", "html",
                 "charset", "report_type", "parse_error"):
        value = getattr(parsed, name)
        if isinstance(value, str):
            setattr(parsed, name, clean(value))
    for name in ("references", "to", "cc", "returned_ids", "defects"):
        setattr(parsed, name, [clean(v) for v in getattr(parsed, name)])
    parsed.headers = {k: clean(v) for k, v in parsed.headers.items()}
    for attachment in parsed.attachments:
        attachment.filename = clean(attachment.filename)
        attachment.content_type = clean(attachment.content_type)
        attachment.content_id = clean(attachment.content_id) if attachment.content_id else None


def parse_message(raw: bytes) -> ParsedEmail:
    """Never raises: a message that cannot be read comes back with ``parse_error`` and the raw text."""
    parsed = ParsedEmail()
    try:
        msg = email.message_from_bytes(raw, policy=RAW_HEADERS)
        _read_headers(msg, parsed)
        body = _Body()
        _Walker(parsed).walk(msg, body, 0, top=True)
        parsed.defects.extend(type(d).__name__ for d in msg.defects)
        parsed.charset = body.charset
        html = "\n".join(body.htmls) if body.htmls else None
        if html is not None:
            parsed.html = sanitize_html(html)
        text = "\n\n".join(t.strip("\r\n") for t in body.texts if t.strip())
        if not text and html is not None:
            text = html_to_text(html)
        parsed.text = text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT_CHARS]
        if not (msg.keys() and (parsed.from_addr or parsed.subject or parsed.message_id or parsed.date)):
            parsed.parse_error = "the message has no header block"
    except Exception as exc:  # the parser must never lose a message
        logger.warning("email could not be parsed: %s", exc)
        parsed.parse_error = f"{type(exc).__name__}: {exc}"[:1000]
        parsed.text = decode_text(raw[:MAX_TEXT_CHARS]).text
        parsed.attachments = []
    _clean_all(parsed)
    _bound(parsed)
    return parsed


#: Column sizes of email_messages / email_attachments (models.py). RFC 5322 caps a header line at
#: 998 characters and RFC 5321 an address at 64 + 1 + 255, so only malformed or hostile messages
#: exceed them; they are kept (bounded, with a defect saying so) instead of failing the insert.
#: The display name also names a new customer (customers.display_name: 200).
LIMITS = {"message_id": 998, "from_addr": 320, "from_name": 200, "reply_to": 320, "charset": 40}
ATTACHMENT_LIMIT = 255  # content type and content id (file names are cut to 200 by _safe_filename)


def _bound(parsed: ParsedEmail) -> None:
    if parsed.message_id is not None and len(parsed.message_id) > LIMITS["message_id"]:
        # A cut identifier could collide with another message's; without one, the bytes' hash
        # names the message for de-duplication.
        parsed.message_id = None
        parsed.defects.append("MessageIdTooLong")
    for name in ("from_addr", "from_name", "reply_to", "charset"):
        value = getattr(parsed, name)
        if value is not None and len(value) > LIMITS[name]:
            setattr(parsed, name, value[:LIMITS[name]])
            parsed.defects.append(f"{name}TooLong")
    for attachment in parsed.attachments:
        attachment.content_type = attachment.content_type[:ATTACHMENT_LIMIT]
        if attachment.content_id is not None and len(attachment.content_id) > ATTACHMENT_LIMIT:
            attachment.content_id = None
            parsed.defects.append("ContentIdTooLong")
