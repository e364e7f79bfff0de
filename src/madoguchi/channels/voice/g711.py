"""G.711 µ-law and A-law (ITU-T G.711), table driven; replaces the deprecated ``audioop``.

Samples are signed 16-bit little-endian PCM. Tables are built on first use, not at import."""

from __future__ import annotations

import array
import sys
from functools import cache

_BIAS = 0x84
_CLIP = 32635
_A_SEG_END = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _lin2ulaw(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, _CLIP) + _BIAS
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _ulaw2lin(value: int) -> int:
    value = ~value & 0xFF
    exponent = (value >> 4) & 0x07
    magnitude = (((value & 0x0F) << 3) + _BIAS) << exponent
    magnitude -= _BIAS
    return -magnitude if value & 0x80 else magnitude


def _lin2alaw(sample: int) -> int:
    pcm = sample >> 3  # A-law works on 13 bits
    if pcm >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        pcm = -pcm - 1
    segment = next((i for i, end in enumerate(_A_SEG_END) if pcm <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    value = segment << 4
    value |= (pcm >> (1 if segment < 2 else segment)) & 0x0F
    return value ^ mask


def _alaw2lin(value: int) -> int:
    value ^= 0x55
    magnitude = (value & 0x0F) << 4
    segment = (value & 0x70) >> 4
    if segment == 0:
        magnitude += 8
    else:
        magnitude += 0x108
        if segment > 1:
            magnitude <<= segment - 1
    return magnitude if value & 0x80 else -magnitude


@cache
def _encode_table(law: str) -> bytes:
    encode = _lin2ulaw if law == "PCMU" else _lin2alaw
    return bytes(encode(i - 65536 if i >= 32768 else i) for i in range(65536))


@cache
def _decode_table(law: str) -> tuple[bytes, ...]:
    decode = _ulaw2lin if law == "PCMU" else _alaw2lin
    return tuple(decode(b).to_bytes(2, "little", signed=True) for b in range(256))


@cache
def _transcode_table(source: str, target: str) -> bytes:
    decode = _ulaw2lin if source == "PCMU" else _alaw2lin
    encode = _lin2ulaw if target == "PCMU" else _lin2alaw
    return bytes(encode(decode(b)) for b in range(256))


def _samples(pcm: bytes) -> array.array[int]:
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def encode(pcm: bytes, law: str) -> bytes:
    """16-bit PCM → G.711 (``law`` is the RTP encoding name: PCMU or PCMA)."""
    table = _encode_table(law)
    return bytes(table[s & 0xFFFF] for s in _samples(pcm))


def decode(data: bytes, law: str) -> bytes:
    """G.711 → 16-bit little-endian PCM."""
    return b"".join(map(_decode_table(law).__getitem__, data))


def transcode(data: bytes, source: str, target: str) -> bytes:
    """µ-law ↔ A-law through one 256-byte table (no PCM in between)."""
    return data if source == target else data.translate(_transcode_table(source, target))


def silence(law: str) -> int:
    """The byte that decodes to (near) zero."""
    return 0xFF if law == "PCMU" else 0xD5
