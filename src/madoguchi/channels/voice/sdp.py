"""SDP (RFC 4566) for one audio stream, and offer/answer (RFC 3264) for G.711 + RFC 4733."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

#: Static payload types (RFC 3551 §6) we speak, in our order of preference.
STATIC_CODECS = {0: "PCMU", 8: "PCMA"}
DEFAULT_DTMF_PT = 101
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}


class SdpError(ValueError):
    """The description cannot be used; SIP answers 488 Not Acceptable Here."""


@dataclass
class MediaDescription:
    address: str
    port: int
    formats: list[int]
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    direction: str = "sendrecv"
    ptime: int | None = None

    def codec_name(self, pt: int) -> str | None:
        if pt in self.rtpmap:
            return self.rtpmap[pt][0]
        return STATIC_CODECS.get(pt)


def parse_sdp(text: str) -> MediaDescription:
    """The first audio stream of a session description (the address may be session or media level)."""
    session_address: str | None = None
    media: MediaDescription | None = None
    session_direction = "sendrecv"
    seen_audio = False
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise SdpError(f"bad SDP line {line[:40]!r}")
        kind, value = line[0], line[2:]
        if kind == "m":
            if seen_audio:
                break  # streams after the first audio one are not ours (we reply with port 0 … none)
            parts = value.split()
            if len(parts) < 4 or parts[0] != "audio":
                continue
            if parts[2] not in ("RTP/AVP", "RTP/AVPF"):
                raise SdpError(f"transport {parts[2]} is not supported")
            try:
                port = int(parts[1].split("/")[0])
                formats = [int(p) for p in parts[3:]]
            except ValueError:
                raise SdpError("bad m= line") from None
            if not 0 <= port <= 65535 or any(not 0 <= f <= 127 for f in formats):
                raise SdpError("bad m= line")
            media = MediaDescription(address=session_address or "", port=port, formats=formats,
                                     direction=session_direction)
            seen_audio = True
        elif kind == "c":
            parts = value.split()
            if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
                raise SdpError("bad c= line")
            address = parts[2].split("/")[0]
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise SdpError(f"connection address {address!r} is not an IP address") from None
            if media is None:
                session_address = address
            else:
                media.address = address
        elif kind == "a":
            name, _, arg = value.partition(":")
            if name in DIRECTIONS:
                if media is None:
                    session_direction = name
                else:
                    media.direction = name
            elif media is not None and name == "rtpmap":
                pt_text, _, encoding = arg.partition(" ")
                enc_parts = encoding.split("/")
                try:
                    media.rtpmap[int(pt_text)] = (enc_parts[0], int(enc_parts[1]) if len(enc_parts) > 1 else 8000)
                except (ValueError, IndexError):
                    raise SdpError("bad rtpmap") from None
            elif media is not None and name == "ptime":
                try:
                    media.ptime = int(arg)
                except ValueError:
                    media.ptime = None
    if media is None:
        raise SdpError("no audio stream")
    if not media.address:
        raise SdpError("no connection address")
    return media


@dataclass(frozen=True)
class MediaChoice:
    """What both sides agreed on for one leg."""

    codec_pt: int
    codec: str          # "PCMU" or "PCMA"
    dtmf_pt: int | None
    remote_address: str
    remote_port: int
    direction: str      # our direction in the answer (or in the offer we made)


def negotiate(offer: MediaDescription, supported: tuple[str, ...] = ("PCMU", "PCMA")) -> MediaChoice:
    """RFC 3264 §6.1: take the offerer's first codec we support, keep its payload numbers, and
    telephone-event/8000 when offered. Raises SdpError (488) when nothing fits."""
    codec_pt: int | None = None
    codec: str | None = None
    for pt in offer.formats:
        name = offer.codec_name(pt)
        rate = offer.rtpmap.get(pt, (name, 8000))[1]
        if name is not None and name.upper() in supported and rate == 8000:
            codec_pt, codec = pt, name.upper()
            break
    if codec_pt is None or codec is None:
        raise SdpError("no common codec (we speak PCMU and PCMA at 8 kHz)")
    dtmf_pt = next((pt for pt in offer.formats
                    if (offer.rtpmap.get(pt, ("", 0))[0].lower(), offer.rtpmap.get(pt, ("", 0))[1])
                    == ("telephone-event", 8000)), None)
    return MediaChoice(codec_pt, codec, dtmf_pt, offer.address, offer.port, _ANSWER_DIRECTION[offer.direction])


def accept_answer(answer: MediaDescription, offered_dtmf_pt: int = DEFAULT_DTMF_PT) -> MediaChoice:
    """The answer to our offer: its first format must be one we offered (§6.1)."""
    choice = negotiate(answer)
    if choice.codec_pt not in STATIC_CODECS:
        raise SdpError("answer picked a codec we did not offer")
    our_direction = _ANSWER_DIRECTION[answer.direction]
    return MediaChoice(choice.codec_pt, choice.codec, choice.dtmf_pt or None, answer.address, answer.port,
                       our_direction)


def build_sdp(*, address: str, port: int, session_id: int, version: int, formats: list[tuple[int, str]],
              dtmf_pt: int | None, direction: str = "sendrecv") -> str:
    """One audio stream; ``formats`` are (payload type, encoding name) in preference order."""
    family = "IP6" if ":" in address else "IP4"
    pts = [pt for pt, _ in formats] + ([dtmf_pt] if dtmf_pt is not None else [])
    lines = ["v=0", f"o=madoguchi {session_id} {version} IN {family} {address}", "s=madoguchi",
             f"c=IN {family} {address}", "t=0 0", f"m=audio {port} RTP/AVP {' '.join(map(str, pts))}"]
    lines += [f"a=rtpmap:{pt} {name}/8000" for pt, name in formats]
    if dtmf_pt is not None:
        lines += [f"a=rtpmap:{dtmf_pt} telephone-event/8000", f"a=fmtp:{dtmf_pt} 0-15"]
    lines += ["a=ptime:20", f"a={direction}"]
    return "\r\n".join(lines) + "\r\n"


def offer_formats() -> list[tuple[int, str]]:
    return [(0, "PCMU"), (8, "PCMA")]
