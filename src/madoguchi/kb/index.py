"""The search index: BM25F over title, question variants and answer, fused with an optional dense
ranking (centred cosines, see VectorStore.nearest). Pure and in memory; updated one article at a
time (upsert / remove).

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
    #: Dense ranking removes the mean vectors (VectorStore.nearest) once this many articles have a
    #: question vector: with fewer, each article would weigh more than 2 % in the mean taken from it.
    centre_from: int = 50


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
    """Unit vectors by doc id, in one matrix for fast dot products, with each row's language, and the
    running means that the ranking subtracts (see ``nearest``).

    Each doc has its passage vector (``passage:`` + its whole text) and, when it has a question, the
    vector of its question as a query (``query:`` + title and variants). Only the mean of the question
    vectors is used: it estimates where customers' queries lie in the model's space."""

    dim: int
    _ids: list[int] = field(default_factory=list)
    _rows: dict[int, int] = field(default_factory=dict)
    _matrix: Vector = field(init=False)
    _languages: npt.NDArray[np.str_] = field(init=False)
    _questions: dict[int, Vector] = field(default_factory=dict)
    # float64 sums: thousands of incremental updates must not drift the means.
    _passage_sum: npt.NDArray[np.float64] = field(init=False)
    _question_sum: npt.NDArray[np.float64] = field(init=False)
    _centring: tuple[Vector, Vector, Vector, Vector] | None = None

    def __post_init__(self) -> None:
        self._matrix = np.zeros((16, self.dim), dtype=np.float32)
        self._languages = np.full(16, "", dtype="<U8")
        self._passage_sum = np.zeros(self.dim, dtype=np.float64)
        self._question_sum = np.zeros(self.dim, dtype=np.float64)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._rows

    def put(self, doc_id: int, vector: Vector, language: str, question: Vector | None = None) -> None:
        row = self._rows.get(doc_id)
        if row is None:
            row = len(self._ids)
            if row == self._matrix.shape[0]:
                self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
                self._languages = np.concatenate([self._languages, np.full(row, "", dtype="<U8")])
            self._ids.append(doc_id)
            self._rows[doc_id] = row
        else:
            self._passage_sum -= self._matrix[row]
        self._matrix[row] = vector
        self._languages[row] = language
        self._passage_sum += self._matrix[row]
        old = self._questions.pop(doc_id, None)
        if old is not None:
            self._question_sum -= old
        if question is not None:
            self._questions[doc_id] = np.asarray(question, dtype=np.float32)
            self._question_sum += self._questions[doc_id]
        self._centring = None

    def drop(self, doc_id: int) -> None:
        row = self._rows.pop(doc_id, None)
        if row is None:
            return
        self._passage_sum -= self._matrix[row]
        old = self._questions.pop(doc_id, None)
        if old is not None:
            self._question_sum -= old
        last = len(self._ids) - 1
        if row != last:  # move the last row into the hole
            moved = self._ids[last]
            self._matrix[row] = self._matrix[last]
            self._languages[row] = self._languages[last]
            self._ids[row] = moved
            self._rows[moved] = row
        self._languages[last] = ""
        self._ids.pop()
        self._centring = None

    def row_of(self, doc_id: int) -> int | None:
        return self._rows.get(doc_id)

    def _centring_terms(self, minimum: int) -> tuple[Vector, Vector, Vector, Vector] | None:
        """(mean passage, mean question, each row's dot with the mean question, each row's norm once
        centred), recomputed after a change at the first search; None below ``minimum`` questions,
        where the means would be made of the few articles themselves rather than of what they share."""
        n = len(self._ids)
        if len(self._questions) < max(1, minimum) or n == 0:
            return None
        if self._centring is None:
            passage_mean = (self._passage_sum / n).astype(np.float32)
            question_mean = (self._question_sum / len(self._questions)).astype(np.float32)
            matrix = self._matrix[:n]
            on_question: Vector = np.einsum("ij,j->i", matrix, question_mean)
            squared = (np.einsum("ij,ij->i", matrix, matrix) - 2 * np.einsum("ij,j->i", matrix, passage_mean)
                       + float(passage_mean @ passage_mean))
            norms: Vector = np.sqrt(np.maximum(squared, 1e-12)).astype(np.float32)
            self._centring = (passage_mean, question_mean, on_question, norms)
        return self._centring

    def nearest(self, query: Vector, *, language: str | None, skip: set[int], count: int,
                centre_from: int = 0) -> tuple[Vector, Vector, list[tuple[int, float]]]:
        """Raw cosines and ranking cosines (by row), and the ``count`` best (doc id, ranking cosine) in
        the language.

        The ranking cosine is taken between the query minus the mean question and the passage minus
        the mean passage. Embeddings of one model share a large common component (e5's cosines sit
        between 0.7 and 0.9), so a raw cosine favours "hub" passages close to every query; removing
        each side's mean leaves what tells articles apart (Mu & Viswanath, "All-but-the-Top", ICLR
        2018, on removing the common mean direction; Radovanović et al., JMLR 2010, on hubs). It is
        the same one matrix-vector product per query: the terms with the means are cached per row."""
        n = len(self._ids)
        # einsum, not BLAS: a multi-threaded BLAS call is slower for one vector on a busy machine.
        cosines: Vector = np.einsum("ij,j->i", self._matrix[:n], query)
        ranking = cosines
        terms = self._centring_terms(centre_from) if centre_from > 0 else None
        if terms is not None:
            passage_mean, question_mean, on_question, norms = terms
            centred_query = query - question_mean
            scale = float(np.linalg.norm(centred_query)) or 1.0
            # (d - mp)·(q - mq) = d·q - d·mq - mp·q + mp·mq, divided by both centred norms
            constant = float(passage_mean @ question_mean) - float(passage_mean @ query)
            ranking = (cosines - on_question + constant) / (norms * scale)
        masked = ranking.copy()
        if language is not None:
            masked[self._languages[:n] != language] = -np.inf
        for doc_id in skip:
            row = self._rows.get(doc_id)
            if row is not None:
                masked[row] = -np.inf
        count = min(count, n)
        if count <= 0:
            return cosines, ranking, []
        best = np.argpartition(-masked, count - 1)[:count] if count < n else np.arange(n)
        best = best[np.argsort(-masked[best], kind="stable")]
        return cosines, ranking, [(self._ids[int(r)], float(ranking[int(r)])) for r in best
                                  if np.isfinite(masked[int(r)])]


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

    def upsert(self, doc: Doc, vector: Vector | None = None, question_vector: Vector | None = None) -> None:
        """``vector``: the passage embedding of the whole doc; ``question_vector``: its question
        embedded as a query (optional; used only through the mean, see VectorStore)."""
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
            self.vectors.put(doc.id, vector, doc.language, question_vector)

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
        """Candidates: the best by BM25 and the best by (centred) cosine. Each signal is scaled per
        query onto [0, 1] (BM25 by its best score, the cosine between the last and the first
        candidate) and the two are mixed. The confidence uses the raw cosine, an absolute scale."""
        t = self.tuning
        cosines, ranking, nearest = vectors.nearest(query_vector, language=language, skip=skip,
                                                    count=t.candidates, centre_from=t.centre_from)
        dense_of = dict(nearest)
        lexical, best_bm25 = _best(scores, t.candidates)
        high = max(dense_of.values(), default=0.0)
        low = min(dense_of.values(), default=0.0)
        # Score every candidate, then build hits for the few returned only.
        fused: list[tuple[float, int]] = []
        for doc_id in set(lexical) | set(dense_of):
            dense = dense_of.get(doc_id)
            if dense is None:
                row = vectors.row_of(doc_id)
                dense = float(ranking[row]) if row is not None else low
            dense_part = max(0.0, (dense - low) / (high - low)) if high > low else 1.0
            lexical_part = scores.get(doc_id, 0.0) / best_bm25 if best_bm25 else 0.0
            fused.append((-round(t.bm25_share * lexical_part + (1 - t.bm25_share) * dense_part, 6), doc_id))
        hits: list[Hit] = []
        for negative, doc_id in heapq.nsmallest(top, fused):
            row = vectors.row_of(doc_id)
            cosine = float(cosines[row]) if row is not None else t.cosine_floor
            semantic = min(1.0, max(0.0, (cosine - t.cosine_floor) / (t.cosine_ceiling - t.cosine_floor)))
            confidence = (coverage.get(doc_id, 0.0) + semantic) / 2
            hits.append(Hit(doc_id=doc_id, score=-negative, confidence=round(confidence, 4),
                            bm25=scores.get(doc_id, 0.0), cosine=round(cosine, 6)))
        return hits


def _best(scores: dict[int, float], count: int) -> tuple[list[int], float]:
    """The ``count`` best-scored ids (in no order) and the best score: a partition in numpy, since a
    common word gives thousands of scored docs."""
    if not scores:
        return [], 0.0
    if len(scores) <= count:
        return list(scores), max(scores.values())
    ids = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
    values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
    best = np.argpartition(-values, count - 1)[:count]
    return [int(i) for i in ids[best]], float(values.max())
