"""SDP offer/answer: codec choice, telephone-event, hold directions, refusals."""

from __future__ import annotations

import pytest

from madoguchi.channels.voice.sdp import SdpError, accept_answer, build_sdp, negotiate, parse_sdp

OFFER = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
         "m=audio 6000 RTP/AVP 8 0 96\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\n"
         "a=fmtp:96 0-15\r\na=sendrecv\r\n")


def test_the_offerers_first_supported_codec_and_its_dtmf_payload_type_win() -> None:
    choice = negotiate(parse_sdp(OFFER))
    assert (choice.codec, choice.codec_pt, choice.dtmf_pt) == ("PCMA", 8, 96)
    assert (choice.remote_address, choice.remote_port, choice.direction) == ("127.0.0.1", 6000, "sendrecv")


@pytest.mark.parametrize("theirs, ours", [("sendonly", "recvonly"), ("inactive", "inactive"),
                                          ("recvonly", "sendonly")])
def test_hold_directions_are_mirrored(theirs: str, ours: str) -> None:
    assert negotiate(parse_sdp(OFFER.replace("sendrecv", theirs))).direction == ours


def test_unsupported_offers_are_refused() -> None:
    with pytest.raises(SdpError):
        negotiate(parse_sdp(OFFER.replace("m=audio 6000 RTP/AVP 8 0 96", "m=audio 6000 RTP/AVP 9 96")))
    for bad in (OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 example.com"), "m=video 1 RTP/AVP 96\r\n",
                OFFER.replace("RTP/AVP", "RTP/SAVP"), "garbage", OFFER.replace("6000", "70000")):
        with pytest.raises(SdpError):
            negotiate(parse_sdp(bad))


def test_our_description_parses_back_and_answers_pick_from_it() -> None:
    text = build_sdp(address="127.0.0.1", port=20000, session_id=1, version=2, formats=[(0, "PCMU"), (8, "PCMA")],
                     dtmf_pt=101, direction="sendonly")
    media = parse_sdp(text)
    assert media.formats == [0, 8, 101] and media.direction == "sendonly"
    choice = accept_answer(media)
    assert (choice.codec, choice.dtmf_pt, choice.direction) == ("PCMU", 101, "recvonly")
