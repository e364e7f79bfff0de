"""Turning mail bytes into text when the declared charset is missing, wrong, or an alias that
Python spells differently. Japanese mail is the hard case: ISO-2022-JP declared over Shift_JIS or
EUC-JP bytes, raw 8-bit headers, and vendor extensions (①, ㈱) outside the strict standards."""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass

#: Declared names → the codecs to try, in order (supersets first: what mailers really emit).
ALIASES: dict[str, tuple[str, ...]] = {
    "shift_jis": ("cp932", "shift_jis_2004"),
    "shift-jis": ("cp932", "shift_jis_2004"),
    "sjis": ("cp932",),
    "x-sjis": ("cp932",),
    "windows-31j": ("cp932",),
    "cp932": ("cp932",),
    "iso-2022-jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_2004"),
    "iso-2022-jp-2": ("iso2022_jp_2",),
    "euc-jp": ("euc_jp", "euc_jis_2004"),
    "x-euc-jp": ("euc_jp", "euc_jis_2004"),
    "ks_c_5601-1987": ("cp949",),
    "euc-kr": ("cp949",),
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "iso-8859-1": ("cp1252",),
    "latin-1": ("cp1252",),
    "us-ascii": ("ascii",),
    "ascii": ("ascii",),
    "ansi_x3.4-1968": ("ascii",),
    "unicode-1-1-utf-7": ("utf-7",),
}

#: Tried in this order when nothing declared fits; the best-reading one wins.
GUESSES = ("utf-8", "iso2022_jp_ext", "cp932", "euc_jp", "gb18030", "cp1252")


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str          # the codec used
    lossy: bool           # some bytes could not be decoded and became U+FFFD


def _candidates(declared: str | None) -> tuple[str, ...]:
    if not declared:
        return ()
    name = declared.strip().strip('"').lower()
    if name in ALIASES:
        return ALIASES[name]
    try:
        return (codecs.lookup(name).name,)
    except LookupError:
        return ()


def _score(text: str) -> float:
    """How much ``text`` reads like real text: CJK and kana up, half-width katakana (what EUC-JP
    read as Shift_JIS looks like), control characters and private-use code points down."""
    if not text:
        return 0.0
    score = 0.0
    for ch in text:
        code = ord(ch)
        if ch.isascii():
            score += 0.0 if (code < 32 and ch not in "\t\r\n\x1b") or code == 127 else 1.0
        elif 0x3040 <= code <= 0x30FF or 0x4E00 <= code <= 0x9FFF:
            score += 2.0
        elif 0xFF61 <= code <= 0xFF9F:
            score -= 1.5
        elif 0xE000 <= code <= 0xF8FF or unicodedata.category(ch) in ("Cc", "Co", "Cn"):
            score -= 3.0
        else:
            score += 0.5
    return score / len(text)


def decode_text(data: bytes, declared: str | None = None) -> Decoded:
    """Never raises. The declared charset wins when it decodes cleanly; otherwise the candidate
    that decodes cleanly and reads best; as a last resort the declared one (or UTF-8) with U+FFFD."""
    for codec in _candidates(declared):
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        # A 7-bit declaration over 8-bit bytes is a lie that happens to decode (iso-2022-jp
        # codecs reject 8-bit bytes; utf-7 and ascii do too); accept what decoded.
        return Decoded(text, codec, False)
    if data.isascii() and b"\x1b" not in data:
        return Decoded(data.decode("ascii"), "ascii", False)
    mostly_utf8 = data.decode("utf-8", errors="replace")
    bad = mostly_utf8.count("\ufffd")
    if bad and bad * 20 <= sum(1 for byte in data if byte > 0x7F):
        return Decoded(mostly_utf8, "utf-8", True)   # UTF-8 with a few stray bytes
    best: tuple[float, str, str] | None = None
    for codec in GUESSES:
        if codec.startswith("iso2022") and b"\x1b" not in data:
            continue
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if codec == "utf-8":
            return Decoded(text, codec, False)  # valid UTF-8 of any length is almost never an accident
        score = _score(text)
        if best is None or score > best[0]:
            best = (score, codec, text)
    if best is not None:
        return Decoded(best[2], best[1], False)
    fallback = (_candidates(declared) or ("utf-8",))[0]
    return Decoded(data.decode(fallback, errors="replace"), fallback, True)


def has_japanese(text: str) -> bool:
    return any(0x3040 <= ord(ch) <= 0x30FF or 0x4E00 <= ord(ch) <= 0x9FFF for ch in text)
