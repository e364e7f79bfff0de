"""The search index: BM25F over title, question variants and answer, with an optional semantic
re-rank. Pure and in memory; updated one article at a time (upsert / remove).

Scores: ``bm25`` ranks; ``confidence`` in [0, 1] says how sure a hit is, for the bot: the share of
the query's IDF weight the article covers, averaged with the rescaled cosine when vectors exist."""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from madoguchi.kb.text import terms as default_terms

Vector = npt.NDArray[np.float32]

#: Field weights: what customers type looks like the questions more than like the answer.
WEIGHTS = {"title": 2.0, "questions": 2.0, "answer": 1.0}


@dataclass(frozen=True)
class Doc:
    id: int
    language: str
    title: str
    questions: tuple[str, ...] = ()
    answer: str = ""

    def fields(self) -> dict[str, str]:
        return {"title": self.title, "questions": "\n".join(self.questions), "answer": self.answer}


@dataclass(frozen=True)
class Hit:
    doc_id: int
    score: float
    confidence: float
    bm25: float
    cosine: float | None = None


@dataclass(frozen=True)
class Tuning:
    k1: float = 1.2
    b: float = 0.75
    candidates: int = 100
    #: Share of the fused score that comes from BM25 (the rest from the cosine), when vectors exist.
    bm25_share: float = 0.2
    #: Cosines of multilingual-e5-small live in a narrow band; these map it onto [0, 1].
    cosine_floor: float = 0.78
    cosine_ceiling: float = 0.92


@dataclass(frozen=True)
class Lexical:
    language: str | None
    skip: frozenset[int]
    scores: dict[int, float]
    coverage: dict[int, float]


@dataclass
class _Entry:
    language: str
    length: float
    tf: dict[str, float]


@dataclass
class VectorStore:
    """Unit vectors by doc id, in one matrix for fast dot products, with each row's language."""

    dim: int
    _ids: list[int] = field(default_factory=list)
    _rows: dict[int, int] = field(default_factory=dict)
    _matrix: Vector = field(init=False)
    _languages: npt.NDArray[np.str_] = field(init=False)

    def __post_init__(self) -> None:
        self._matrix = np.zeros((16, self.dim), dtype=np.float32)
        self._languages = np.full(16, "", dtype="<U8")

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._rows

    def put(self, doc_id: int, vector: Vector, language: str) -> None:
        row = self._rows.get(doc_id)
        if row is None:
            row = len(self._ids)
            if row == self._matrix.shape[0]:
                self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
                self._languages = np.concatenate([self._languages, np.full(row, "", dtype="<U8")])
            self._ids.append(doc_id)
            self._rows[doc_id] = row
        self._matrix[row] = vector
        self._languages[row] = language

    def drop(self, doc_id: int) -> None:
        row = self._rows.pop(doc_id, None)
        if row is None:
            return
        last = len(self._ids) - 1
        if row != last:  # move the last row into the hole
            moved = self._ids[last]
            self._matrix[row] = self._matrix[last]
            self._languages[row] = self._languages[last]
            self._ids[row] = moved
            self._rows[moved] = row
        self._languages[last] = ""
        self._ids.pop()

    def row_of(self, doc_id: int) -> int | None:
        return self._rows.get(doc_id)

    def nearest(self, query: Vector, *, language: str | None, skip: set[int],
                count: int) -> tuple[Vector, list[tuple[int, float]]]:
        """All cosines (by row), and the ``count`` best (doc id, cosine) in the language."""
        n = len(self._ids)
        # einsum, not BLAS: a multi-threaded BLAS call is slower for one vector on a busy machine.
        cosines: Vector = np.einsum("ij,j->i", self._matrix[:n], query)
        masked = cosines.copy()
        if language is not None:
            masked[self._languages[:n] != language] = -np.inf
        for doc_id in skip:
            row = self._rows.get(doc_id)
            if row is not None:
                masked[row] = -np.inf
        count = min(count, n)
        if count <= 0:
            return cosines, []
        best = np.argpartition(-masked, count - 1)[:count] if count < n else np.arange(n)
        best = best[np.argsort(-masked[best])]
        return cosines, [(self._ids[int(r)], float(cosines[int(r)])) for r in best if np.isfinite(masked[int(r)])]


class SearchIndex:
    def __init__(self, *, terms: Callable[[str], list[str]] = default_terms, tuning: Tuning | None = None,
                 weights: dict[str, float] | None = None) -> None:
        self.terms = terms
        self.tuning = tuning or Tuning()
        self.weights = weights or WEIGHTS
        self._docs: dict[int, _Entry] = {}
        self._postings: dict[str, dict[int, float]] = {}
        self._total_length = 0.0
        self.vectors: VectorStore | None = None

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def upsert(self, doc: Doc, vector: Vector | None = None) -> None:
        self.remove(doc.id)
        tf: dict[str, float] = {}
        length = 0.0
        for name, text in doc.fields().items():
            weight = self.weights.get(name, 1.0)
            field_terms = self.terms(text) if text else []
            length += weight * len(field_terms)
            for term in field_terms:
                tf[term] = tf.get(term, 0.0) + weight
        entry = _Entry(language=doc.language, length=length, tf=tf)
        self._docs[doc.id] = entry
        self._total_length += length
        for term, weight in entry.tf.items():
            self._postings.setdefault(term, {})[doc.id] = weight
        if vector is not None:
            if self.vectors is None:
                self.vectors = VectorStore(dim=int(vector.shape[0]))
            self.vectors.put(doc.id, vector, doc.language)

    def remove(self, doc_id: int) -> None:
        entry = self._docs.pop(doc_id, None)
        if entry is None:
            return
        self._total_length -= entry.length
        for term in entry.tf:
            postings = self._postings.get(term)
            if postings is not None:
                postings.pop(doc_id, None)
                if not postings:
                    del self._postings[term]
        if self.vectors is not None:
            self.vectors.drop(doc_id)

    def idf(self, term: str) -> float:
        n = len(self._docs)
        df = len(self._postings.get(term, ()))
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _bm25(self, query_terms: Sequence[str], language: str | None,
              exclude: Iterable[int]) -> tuple[dict[int, float], dict[int, float], float]:
        """Scores and covered IDF weight per doc, and the query's total IDF weight."""
        k1, b = self.tuning.k1, self.tuning.b
        average = self._total_length / len(self._docs) if self._docs else 1.0
        counts = Counter(query_terms)
        scores: dict[int, float] = {}
        covered: dict[int, float] = {}
        total = 0.0
        skip = set(exclude)
        for term, qtf in counts.items():
            idf = self.idf(term)
            total += idf * qtf
            for doc_id, tf in self._postings.get(term, {}).items():
                entry = self._docs[doc_id]
                if doc_id in skip or (language is not None and entry.language != language):
                    continue
                norm = tf * (k1 + 1) / (tf + k1 * (1 - b + b * entry.length / (average or 1.0)))
                scores[doc_id] = scores.get(doc_id, 0.0) + qtf * idf * norm
                covered[doc_id] = covered.get(doc_id, 0.0) + qtf * idf
        return scores, covered, total

    def lexical(self, query: str, *, language: str | None = None, exclude: Iterable[int] = ()) -> Lexical:
        """The BM25 half of a search, which a caller may run while the query is being embedded."""
        skip = set(exclude)
        scores, covered, total = self._bm25(self.terms(query), language, skip)
        coverage = {d: (covered[d] / total if total else 0.0) for d in scores}
        return Lexical(language=language, skip=frozenset(skip), scores=scores, coverage=coverage)

    def search(self, query: str, *, language: str | None = None, top: int = 5, exclude: Iterable[int] = (),
               query_vector: Vector | None = None, lexical: Lexical | None = None) -> list[Hit]:
        if lexical is None:
            lexical = self.lexical(query, language=language, exclude=exclude)
        scores, coverage = lexical.scores, lexical.coverage
        vectors = self.vectors if query_vector is not None else None
        if vectors is None or query_vector is None or not len(vectors):
            ranked = heapq.nsmallest(top, scores, key=lambda d: (-scores[d], d))
            return [Hit(doc_id=d, score=scores[d], confidence=round(coverage[d], 4), bm25=scores[d]) for d in ranked]
        return self._hybrid(scores, coverage, vectors, query_vector, lexical.language, top, set(lexical.skip))

    def _hybrid(self, scores: dict[int, float], coverage: dict[int, float], vectors: VectorStore,
                query_vector: Vector, language: str | None, top: int, skip: set[int]) -> list[Hit]:
        """Candidates: the best by BM25 and the best by cosine. Each signal is scaled per query onto
        [0, 1] (BM25 by its best score, the cosine between the last and the first candidate) and the
        two are mixed; bench/bot_eval.py measured the mix."""
        t = self.tuning
        cosines, nearest = vectors.nearest(query_vector, language=language, skip=skip, count=t.candidates)
        cosine_of = dict(nearest)
        lexical = heapq.nlargest(t.candidates, scores, key=scores.__getitem__)
        best_bm25 = scores[lexical[0]] if lexical else 0.0
        high = max(cosine_of.values(), default=0.0)
        low = min(cosine_of.values(), default=0.0)
        hits: list[Hit] = []
        for doc_id in set(lexical) | set(cosine_of):
            cosine = cosine_of.get(doc_id)
            if cosine is None:
                row = vectors.row_of(doc_id)
                cosine = float(cosines[row]) if row is not None else low
            dense_part = max(0.0, (cosine - low) / (high - low)) if high > low else 1.0
            bm25 = scores.get(doc_id, 0.0)
            lexical_part = bm25 / best_bm25 if best_bm25 else 0.0
            score = t.bm25_share * lexical_part + (1 - t.bm25_share) * dense_part
            semantic = min(1.0, max(0.0, (cosine - t.cosine_floor) / (t.cosine_ceiling - t.cosine_floor)))
            confidence = (coverage.get(doc_id, 0.0) + semantic) / 2
            hits.append(Hit(doc_id=doc_id, score=round(score, 6), confidence=round(confidence, 4), bm25=bm25,
                            cosine=round(cosine, 6)))
        hits.sort(key=lambda h: (-h.score, h.doc_id))
        return hits[:top]
