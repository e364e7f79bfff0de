"""Japanese and English message catalogues and language negotiation."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "en"


def negotiate(accept_language: str | None, preferred: str | None = None) -> str:
    """Pick ja or en: an explicit choice first, then the browser's Accept-Language order."""
    if preferred in LANGUAGES:
        return preferred
    if accept_language:
        ranked: list[tuple[float, str]] = []
        for part in accept_language.split(","):
            piece = part.strip()
            if not piece:
                continue
            lang, _, params = piece.partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            ranked.append((quality, lang.strip().lower()[:2]))
        for _, lang in sorted(ranked, key=lambda item: -item[0]):
            if lang in LANGUAGES:
                return lang
    return DEFAULT_LANGUAGE


@cache
def catalogue(locale_dir: str, language: str) -> dict[str, str]:
    path = Path(locale_dir) / f"{language}.json"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def translate(locale_dir: str, language: str, key: str, **values: object) -> str:
    text = catalogue(locale_dir, language).get(key) or catalogue(locale_dir, DEFAULT_LANGUAGE).get(key, key)
    return text.format(**values) if values else text
