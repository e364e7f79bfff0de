"""SIP parse/build: strict validation, compact forms, folding, responses that copy the right headers."""

from __future__ import annotations

import pytest

from madoguchi.channels.voice.sip.message import (
    NameAddr,
    SipParseError,
    SipRequest,
    SipResponse,
    Uri,
    Via,
    parse,
    response_to,
)

INVITE = (
    "INVITE sip:support@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1;rport\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Caller" <sip:+81312345678@127.0.0.1:5061>;tag=abc\r\n'
    "To: <sip:support@127.0.0.1>\r\n"
    "Call-ID: call-1@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:+81312345678@127.0.0.1:5061>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n\r\nv=0\n"
)


def test_a_request_parses_with_its_headers_and_body() -> None:
    message = parse(INVITE.encode())
    assert isinstance(message, SipRequest)
    assert (message.method, message.uri) == ("INVITE", "sip:support@127.0.0.1:5060")
    assert message.cseq == (1, "INVITE")
    assert message.from_.tag == "abc" and message.from_.display == "Caller"
    assert message.top_via.branch == "z9hG4bK-1"
    assert message.body == b"v=0\n"


def test_compact_forms_and_folded_lines_are_understood() -> None:
    text = ("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP h:1;branch=z9hG4bKx\r\nf: <sip:a@h>;tag=1\r\n"
            "t: <sip:x@h>\r\ni: c1\r\nCSeq: 7\r\n OPTIONS\r\nl: 0\r\n\r\n")
    message = parse(text.encode())
    assert message.call_id == "c1" and message.cseq == (7, "OPTIONS")


def test_a_response_round_trips() -> None:
    request = parse(INVITE.encode())
    assert isinstance(request, SipRequest)
    response = response_to(request, 180, "Ringing", to_tag="t1")
    again = parse(response.to_bytes())
    assert isinstance(again, SipResponse)
    assert again.status == 180 and again.to.tag == "t1" and again.from_.tag == "abc"
    assert again.headers.get("content-length") == "0"


@pytest.mark.parametrize("damage, answerable", [
    (lambda t: t.replace("CSeq: 1 INVITE", "CSeq: 1 BYE"), True),            # §8.2.6: method mismatch
    (lambda t: t.replace("CSeq: 1 INVITE", "CSeq: x INVITE"), True),
    (lambda t: t.replace("Content-Length: 4", "Content-Length: 400"), True),  # §18.3: short body
    (lambda t: t.replace("sip:support@127.0.0.1:5060 ", "sip:support@127.0.0.1:99999 "), True),
    (lambda t: t.replace("Call-ID: call-1@127.0.0.1\r\n", ""), False),        # cannot even answer
    (lambda t: t.replace("Via: SIP/2.0/UDP", "Via: HTTP/1.1/UDP"), False),
    (lambda t: t.replace(" SIP/2.0\r\n", " SIP/3.0\r\n", 1), False),
    (lambda t: t.replace("\r\n\r\n", "\r\n"), False),
    (lambda t: "\xff\xfe" + t, False),
])
def test_malformed_messages_raise_a_parse_error_never_anything_else(damage: object, answerable: bool) -> None:
    text = damage(INVITE)  # type: ignore[operator]
    with pytest.raises(SipParseError) as caught:
        parse(text.encode("utf-8", "surrogateescape"))
    assert (caught.value.request is not None) is answerable


def test_garbage_of_every_shape_is_a_parse_error() -> None:
    for data in (b"", b"\r\n\r\n", b"x" * 70_000, b"INVITE\r\n\r\n", b"SIP/2.0 999 Nope\r\n\r\n", b"\x00" * 40,
                 INVITE.encode()[:60], INVITE.encode().replace(b"From:", b"Fr om:")):
        with pytest.raises(SipParseError):
            parse(data)


def test_uris_name_addrs_and_vias() -> None:
    uri = Uri.parse("sip:alice:secret@[::1]:5070;transport=udp")
    assert (uri.user, uri.host, uri.port, uri.params) == ("alice", "::1", 5070, {"transport": "udp"})
    addr = NameAddr.parse('"A, B" <sip:a@h;lr>;tag=9')
    assert addr.display == "A, B" and addr.uri == "sip:a@h;lr" and addr.tag == "9"
    via = Via.parse("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKq;received=1.2.3.4")
    assert (via.host, via.port, via.branch) == ("10.0.0.1", 5062, "z9hG4bKq")
