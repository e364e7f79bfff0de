"""Header values from raw bytes to text: raw 8-bit, RFC 2047 encoded words, folding, addresses,
message ids and dates. Nothing here raises on bad input."""

from __future__ import annotations

import email.errors
import email.header
import email.utils
import re
from datetime import UTC, datetime

from madoguchi.channels.email.charsets import decode_text

_FOLD = re.compile(r"\r\n|\r|\n")
_MSGID = re.compile(r"<([^<>\s]{1,996})>")
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+$")


def _unraw(value: object) -> str:
    """A header as the compat32 parser keeps it (ASCII with surrogate escapes for 8-bit bytes, or a
    Header object) → text, with raw 8-bit bytes decoded by guessing."""
    if isinstance(value, email.header.Header):
        value = str(value)
    text = str(value)
    try:
        raw = text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return text
    return text if raw.isascii() else decode_text(raw).text


def unfold(text: str) -> str:
    return _FOLD.sub("", text).strip() if "\n" in text or "\r" in text else text.strip()


def decode_words(text: str) -> str:
    """RFC 2047 encoded words, each in its own charset (mislabelled ones are guessed)."""
    if "=?" not in text:
        return text
    try:
        chunks = email.header.decode_header(text)
    except (email.errors.HeaderParseError, ValueError, LookupError):
        return text
    parts: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            parts.append(chunk)
        elif charset is None:
            parts.append(chunk.decode("raw-unicode-escape", errors="replace"))
        else:
            parts.append(decode_text(chunk, charset).text)
    return "".join(parts)


def text_header(value: object | None) -> str:
    if value is None:
        return ""
    return decode_words(unfold(_unraw(value)))


def normalise_address(address: str) -> str | None:
    address = address.strip().strip("<>").strip()
    if not address or len(address) > 320 or not _EMAIL.match(address):
        return None
    return address.lower()


def address_list(values: list[object]) -> list[tuple[str | None, str]]:
    """(display name, lower-cased address) for every valid address in the given header values."""
    texts = [unfold(_unraw(v)) for v in values]
    found: list[tuple[str | None, str]] = []
    for name, addr in email.utils.getaddresses(texts):
        address = normalise_address(decode_words(addr))
        if address is None:
            continue
        display = decode_words(name).strip().strip('"').strip() or None
        found.append((display[:300] if display else None, address))
    return found


def format_address(name: str | None, address: str) -> str:
    """For display: ``"Name" <address>`` (not for the wire; outgoing headers are encoded elsewhere)."""
    if not name:
        return address
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'


def message_ids(value: object | None) -> list[str]:
    """The ids in a Message-ID / In-Reply-To / References header, without angle brackets."""
    if value is None:
        return []
    text = unfold(_unraw(value))
    ids = _MSGID.findall(text)
    if not ids and text and " " not in text and len(text) <= 996:
        ids = [text.strip("<>")]
    return [i for i in ids if i]


def parse_date(value: object | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(unfold(_unraw(value)))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
