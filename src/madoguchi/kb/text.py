"""Tokenization for search: Sudachi normalized forms for Japanese, Snowball stems for English.

Both languages go through one function, because customers mix them ("Amazon Payは使えますか").
Runs of Japanese text are analysed by Sudachi; Latin words, wherever they stand, are case-folded,
filtered against a stop list and stemmed."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

import snowballstemmer
from sudachipy import Dictionary, SplitMode

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f々〆ヶ]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
#: Parts of speech (first level) that carry meaning for search.
_CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "副詞", "代名詞", "連体詞", "接頭辞", "接尾辞", "感動詞"})
JA_STOP = frozenset({
    "為る", "有る", "居る", "成る", "在る", "出来る", "下さる", "頂く", "致す", "貰う", "呉れる", "言う", "思う",
    "事", "物", "様", "為", "此れ", "其れ", "彼", "是", "此の", "其の", "私", "僕", "わたし", "御", "お", "ご",
    "さん", "様々", "等", "方", "ところ", "中", "的", "こと", "もの", "よう", "ため", "これ", "それ", "あれ",
    "この", "その", "あの", "どう", "ちょっと", "です", "ます",
})
EN_STOP = frozenset(str.split("""
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
few for from further had hadn't has hasn't have haven't having he her here hers herself him himself his how
i if in into is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only
or other ought our ours ourselves out over own same shan't she should shouldn't so some such than that the
their theirs them themselves then there these they this those through to too under until up very was wasn't
we were weren't what when where which while who whom why with won't would wouldn't you your yours yourself
yourselves hi hello please thanks thank just also get got im i'm ive i've id i'd s t
"""))


class Tokenizer:
    """Turns text into index terms. One per thread: Sudachi's tokenizer is not thread-safe."""

    def __init__(self) -> None:
        self._sudachi: Any = Dictionary(dict="core").tokenizer(mode=SplitMode.A,
                                                               fields={"pos", "normalized_form"})
        self._stem = snowballstemmer.stemmer("english").stemWord

    def english(self, text: str) -> list[str]:
        words = _WORD.findall(text)
        return [self._stem(w) for w in words if w not in EN_STOP and (len(w) > 1 or w.isdigit())]

    def terms(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).casefold()
        if not _JAPANESE.search(text):
            return self.english(text)
        out: list[str] = []
        for morpheme in self._sudachi.tokenize(text):
            pos = morpheme.part_of_speech()
            form: str = morpheme.normalized_form()
            if pos[0] not in _CONTENT_POS or (pos[1] == "数詞" and not form.isdigit()):
                continue
            if _JAPANESE.search(form):
                if form not in JA_STOP:
                    out.append(form)
            else:
                out.extend(self.english(form.casefold()))
        return out


_local = threading.local()


def tokenizer() -> Tokenizer:
    """This thread's tokenizer (Sudachi loads its dictionary once, in about 0.1 s)."""
    found: Tokenizer | None = getattr(_local, "tokenizer", None)
    if found is None:
        found = _local.tokenizer = Tokenizer()
    return found


def terms(text: str) -> list[str]:
    return tokenizer().terms(text)


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """Case-folded NFKC text with collapsed spaces: for comparing what people type."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def has_japanese(text: str) -> bool:
    return _JAPANESE.search(text) is not None
