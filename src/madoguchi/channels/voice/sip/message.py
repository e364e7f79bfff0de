"""SIP messages (RFC 3261 §7, §20, §25): strict parse, build, and the helpers a UA needs.

``parse`` raises ``SipParseError``; ``error.answerable`` tells whether enough of a request was
read to answer it with 400 (§8.2.2: the transaction headers were present)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 65_000
MAX_HEADERS = 100
BRANCH_COOKIE = "z9hG4bK"  # §8.1.1.7
#: §7.3.3 compact forms.
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding"}
CANONICAL = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq", "contact": "Contact",
             "content-length": "Content-Length", "content-type": "Content-Type", "max-forwards": "Max-Forwards",
             "www-authenticate": "WWW-Authenticate", "authorization": "Authorization", "user-agent": "User-Agent",
             "allow": "Allow", "expires": "Expires", "supported": "Supported", "server": "Server"}
REQUIRED = ("via", "from", "to", "call-id", "cseq")
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) (.*)$")
_URI = re.compile(r"^(sips?):(?:([^@;?]+)@)?([^;?>]+)(.*)$")


class SipParseError(ValueError):
    def __init__(self, message: str, *, answerable: bool = False, request: SipRequest | None = None) -> None:
        super().__init__(message)
        self.answerable = answerable
        self.request = request


def canonical(name: str) -> str:
    key = name.lower()
    key = COMPACT.get(key, key)
    return CANONICAL.get(key, "-".join(p.capitalize() for p in key.split("-")))


@dataclass
class Headers:
    """Ordered, case-insensitive, repeatable; names are stored in canonical form."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        wanted = canonical(name)
        return next((v for n, v in self.items if n == wanted), None)

    def get_all(self, name: str) -> list[str]:
        wanted = canonical(name)
        return [v for n, v in self.items if n == wanted]

    def add(self, name: str, value: str) -> None:
        self.items.append((canonical(name), value))

    def set(self, name: str, value: str) -> None:
        wanted = canonical(name)
        self.items = [(n, v) for n, v in self.items if n != wanted]
        self.items.append((wanted, value))

    def remove(self, name: str) -> None:
        wanted = canonical(name)
        self.items = [(n, v) for n, v in self.items if n != wanted]

    def copy(self) -> Headers:
        return Headers(list(self.items))


@dataclass
class _Message:
    headers: Headers
    body: bytes

    @property
    def call_id(self) -> str:
        return self.headers.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.headers.get("cseq") or "0 ?").partition(" ")
        return int(number), method.strip()

    @property
    def top_via(self) -> Via:
        return Via.parse(split_commas(self.headers.get_all("via"))[0])

    @property
    def from_(self) -> NameAddr:
        return NameAddr.parse(self.headers.get("from") or "")

    @property
    def to(self) -> NameAddr:
        return NameAddr.parse(self.headers.get("to") or "")

    def _serialise(self, start: str) -> bytes:
        self.headers.set("content-length", str(len(self.body)))
        head = start + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in self.headers.items) + "\r\n"
        return head.encode() + self.body


@dataclass
class SipRequest(_Message):
    method: str = ""
    uri: str = ""

    def to_bytes(self) -> bytes:
        return self._serialise(f"{self.method} {self.uri} SIP/2.0")


@dataclass
class SipResponse(_Message):
    status: int = 0
    reason: str = ""

    def to_bytes(self) -> bytes:
        return self._serialise(f"SIP/2.0 {self.status} {self.reason}")


SipMessage = SipRequest | SipResponse


def split_commas(values: list[str]) -> list[str]:
    """Split header values that hold comma-separated entries (Via, Contact), outside quotes and <>."""
    out: list[str] = []
    for value in values:
        depth, quoted, start = 0, False, 0
        for i, ch in enumerate(value):
            if ch == '"' and (i == 0 or value[i - 1] != "\\"):
                quoted = not quoted
            elif not quoted and ch == "<":
                depth += 1
            elif not quoted and ch == ">":
                depth -= 1
            elif not quoted and depth == 0 and ch == ",":
                out.append(value[start:i].strip())
                start = i + 1
        out.append(value[start:].strip())
    return [v for v in out if v]


def parse_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if part:
            name, _, value = part.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
    return params


@dataclass(frozen=True)
class Uri:
    scheme: str
    user: str | None
    host: str
    port: int | None
    params: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Uri:
        match = _URI.match(text.strip())
        if not match:
            raise SipParseError(f"bad SIP URI {text[:60]!r}", answerable=True)
        scheme, user, hostport, rest = match.groups()
        host, port = hostport, None
        if hostport.startswith("["):
            host, _, tail = hostport[1:].partition("]")
            if tail.startswith(":"):
                port = _port(tail[1:])
        elif ":" in hostport:
            host, _, port_text = hostport.partition(":")
            port = _port(port_text)
        if not host:
            raise SipParseError("SIP URI without a host", answerable=True)
        user_part = user.split(":")[0] if user else None  # drop a password (§19.1.1, deprecated)
        return cls(scheme, user_part, host, port, parse_params(rest.split("?")[0]))


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SipParseError(f"bad port {text!r}", answerable=True)
    return int(text)


@dataclass(frozen=True)
class NameAddr:
    display: str | None
    uri: str
    params: dict[str, str]

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if "<" in text:
            display, _, rest = text.partition("<")
            uri, sep, params = rest.partition(">")
            if not sep:
                raise SipParseError("unclosed < in a name-addr", answerable=True)
            name = display.strip().strip('"') or None
            return cls(name, uri.strip(), parse_params(params))
        uri, _, params = text.partition(";")  # addr-spec: its parameters belong to the header (§20.10)
        return cls(None, uri.strip(), parse_params(params))

    def render(self, **params: str) -> str:
        merged = {**self.params, **params}
        display = f'"{self.display}" ' if self.display else ""
        return display + f"<{self.uri}>" + "".join(f";{k}={v}" if v else f";{k}" for k, v in merged.items())


@dataclass(frozen=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str]

    @property
    def branch(self) -> str:
        return self.params.get("branch", "")

    @classmethod
    def parse(cls, text: str) -> Via:
        protocol, _, rest = text.strip().partition(" ")
        parts = protocol.split("/")
        if len(parts) != 3 or parts[0].upper() != "SIP" or parts[1] != "2.0":
            raise SipParseError(f"bad Via {text[:60]!r}", answerable=False)
        sent_by, _, params = rest.strip().partition(";")
        host, _, port_text = sent_by.strip().partition(":")
        port = _port(port_text) if port_text else None
        if not host:
            raise SipParseError("Via without a host", answerable=False)
        return cls(parts[2].upper(), host, port, parse_params(params))


def parse(data: bytes) -> SipMessage:
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError("message too large")
    head_bytes, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipParseError("no end of headers")
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("headers are not UTF-8") from None
    lines = head.split("\r\n")
    while lines and not lines[0]:
        lines.pop(0)  # §7.5: ignore empty lines before the start line
    if not lines:
        raise SipParseError("empty message")
    start, header_lines = lines[0], lines[1:]
    headers = Headers()
    for line in header_lines:
        if line[:1] in (" ", "\t"):  # §7.3.1 folding
            if not headers.items:
                raise SipParseError("continuation before any header")
            name, value = headers.items[-1]
            headers.items[-1] = (name, value + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name.strip()):
            raise SipParseError(f"bad header line {line[:40]!r}", answerable=True)
        headers.add(name.strip(), value.strip())
        if len(headers.items) > MAX_HEADERS:
            raise SipParseError("too many headers")
    message: SipMessage
    status = _STATUS_LINE.match(start)
    if status:
        message = SipResponse(headers=headers, body=b"", status=int(status.group(1)), reason=status.group(2))
    else:
        parts = start.split(" ")
        if len(parts) != 3 or parts[2] != "SIP/2.0" or not _TOKEN.match(parts[0]):
            raise SipParseError(f"bad start line {start[:60]!r}")
        message = SipRequest(headers=headers, body=b"", method=parts[0].upper(), uri=parts[1])
    _check(message, body)
    return message


def _check(message: SipMessage, body: bytes) -> None:
    request = message if isinstance(message, SipRequest) else None
    missing = [canonical(n) for n in REQUIRED if message.headers.get(n) is None]
    if missing:
        raise SipParseError(f"missing {', '.join(missing)}")
    try:
        _ = message.top_via
    except SipParseError as error:
        raise SipParseError(str(error)) from None
    # From here on the message can be answered (a response needs Via, From, To, Call-ID, CSeq).
    def bad(why: str) -> SipParseError:
        return SipParseError(why, answerable=request is not None, request=request)

    cseq = (message.headers.get("cseq") or "").split()
    if len(cseq) != 2 or not cseq[0].isdigit() or int(cseq[0]) >= 2**31 or not _TOKEN.match(cseq[1]):
        raise bad("bad CSeq")
    if request is not None:
        if cseq[1].upper() != request.method:
            raise bad("CSeq method does not match the request")  # §8.2.6 (400)
        try:
            Uri.parse(request.uri)
        except SipParseError as error:
            raise bad(str(error)) from None
    length_text = message.headers.get("content-length")
    if length_text is not None:
        if not length_text.isdigit():
            raise bad("bad Content-Length")
        length = int(length_text)
        if length > len(body):
            raise bad("body shorter than Content-Length")  # §18.3: over UDP this is a 400
        body = body[:length]
    try:
        _ = (message.from_, message.to)  # both must parse
    except SipParseError as error:
        raise bad(str(error)) from None
    if not message.call_id.strip():
        raise bad("empty Call-ID")
    message.body = body


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return BRANCH_COOKIE + secrets.token_hex(8)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(10)}@{host}"


def response_to(request: SipRequest, status: int, reason: str, *, to_tag: str | None = None,
                body: bytes = b"", extra: list[tuple[str, str]] | None = None) -> SipResponse:
    """§8.2.6.2: copy Via (all), From, To (+ our tag), Call-ID and CSeq."""
    headers = Headers()
    for value in request.headers.get_all("via"):
        headers.add("via", value)
    headers.add("from", request.headers.get("from") or "")
    to = request.headers.get("to") or ""
    if to_tag and ";tag=" not in to.replace(" ", "").lower():
        to = f"{to};tag={to_tag}"
    headers.add("to", to)
    headers.add("call-id", request.call_id)
    headers.add("cseq", request.headers.get("cseq") or "")
    headers.add("server", "madoguchi")
    for name, value in extra or []:
        headers.add(name, value)
    return SipResponse(headers=headers, body=body, status=status, reason=reason)
