"""Knowledge-base search quality and latency.

    .venv/bin/python bench/bot_eval.py [--json] [--no-semantic] [--articles 10000]

Needs the ``bench`` extra (``pip install -e '.[bench]'``) for the two data sets:

* ``zaragoza-construction-faq`` (CC BY 4.0, 503 English Q/A pairs): each question searches the
  answers (answers only: the question itself is not indexed); recall@1, recall@5 and MRR of its
  own answer.
* ``chatterbot-corpus`` Japanese (568 pairs, 19 categories): each question searches the other
  questions (leave one out); the category of the nearest one is the prediction (accuracy = R@1);
  recall@5 and MRR of the first hit in the right category.
* Latency: p50/p95/p99 of one search (tokenise, BM25, embed the query, re-rank) over ``--articles``
  published articles built from both data sets' texts with numbered variations. The synthetic
  articles reuse the vectors of the texts they were made from: search time does not depend on the
  vectors' values, and embedding 10,000 passages on a 2-core machine would take minutes.

Each method is measured: ``bm25`` (Sudachi / Snowball), ``e5`` (raw cosine only), ``e5_centred``
(the product's dense score alone, where the docs have question vectors) and ``hybrid`` (the
product's ranking). Embeddings are cached under bench/results/cache/ between runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from madoguchi.kb.index import Doc, Hit, SearchIndex, Tuning, Vector
from madoguchi.kb.semantic import E5Embedder

CACHE = Path(__file__).parent / "results" / "cache"


def zaragoza() -> list[dict[str, str]]:
    import zaragoza_construction_faq as faq  # type: ignore[import-untyped,unused-ignore]

    rows: list[dict[str, str]] = faq.load(lang="en")
    return rows


def chatterbot_japanese() -> list[tuple[str, str, str]]:
    """(question, answer, category) for every Japanese conversation pair."""
    import yaml
    from chatterbot_corpus.corpus import DATA_DIRECTORY  # type: ignore[import-untyped,unused-ignore]

    pairs: list[tuple[str, str, str]] = []
    for path in sorted((Path(DATA_DIRECTORY) / "japanese").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        category = path.stem
        for conversation in data.get("conversations") or []:
            if len(conversation) >= 2:
                pairs.append((str(conversation[0]), str(conversation[1]), category))
    return pairs


def cached_vectors(embed: Callable[[Sequence[str]], list[Vector]], texts: Sequence[str], kind: str) -> np.ndarray:
    key = hashlib.sha256(("\x00".join(texts) + kind).encode()).hexdigest()[:16]
    path = CACHE / f"{kind}-{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = np.stack(embed(texts)) if texts else np.zeros((0, 384), dtype=np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def metrics(ranks: list[int | None]) -> dict[str, float]:
    """ranks: 1-based rank of the right answer per query (None: not in the list)."""
    n = len(ranks)
    return {"queries": n,
            "recall_at_1": round(sum(1 for r in ranks if r == 1) / n, 4),
            "recall_at_5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4),
            "mrr": round(sum(1 / r for r in ranks if r is not None) / n, 4)}


def rank_of(hits: list[Hit], good: Callable[[int], bool]) -> int | None:
    for position, hit in enumerate(hits, start=1):
        if good(hit.doc_id):
            return position
    return None


def cosine_hits(matrix: np.ndarray, query: Vector, exclude: int | None, top: int) -> list[Hit]:
    scores = matrix @ query
    if exclude is not None:
        scores[exclude] = -2.0
    order = np.argsort(-scores)[:top]
    return [Hit(doc_id=int(i), score=float(scores[i]), confidence=0.0, bm25=0.0) for i in order]


def evaluate(docs: list[Doc], queries: list[str], doc_vectors: np.ndarray | None, query_vectors: np.ndarray | None,
             good: Callable[[int, int], bool], leave_one_out: bool, tuning: Tuning,
             question_vectors: np.ndarray | None = None, top: int = 20) -> dict[str, dict[str, float]]:
    """``question_vectors``: each doc's question embedded as a query, as the service stores it for
    an article with a question (None where the docs have no question)."""
    out: dict[str, dict[str, float]] = {}
    lexical = SearchIndex(tuning=tuning)
    for doc in docs:
        lexical.upsert(doc)
    ranks = []
    for qi, query in enumerate(queries):
        hits = lexical.search(query, top=top, exclude=[qi] if leave_one_out else [])
        ranks.append(rank_of(hits, lambda d, qi=qi: good(qi, d)))
    out["bm25"] = metrics(ranks)
    if doc_vectors is None or query_vectors is None:
        return out
    ranks = []
    for qi in range(len(queries)):
        hits = cosine_hits(doc_vectors, query_vectors[qi], qi if leave_one_out else None, top)
        ranks.append(rank_of(hits, lambda d, qi=qi: good(qi, d)))
    out["e5"] = metrics(ranks)
    hybrid = SearchIndex(tuning=tuning)
    for i, (doc, vector) in enumerate(zip(docs, doc_vectors, strict=True)):
        hybrid.upsert(doc, vector, question_vectors[i] if question_vectors is not None else None)
    ranks = []
    for qi, query in enumerate(queries):
        hits = hybrid.search(query, top=top, exclude=[qi] if leave_one_out else [], query_vector=query_vectors[qi])
        ranks.append(rank_of(hits, lambda d, qi=qi: good(qi, d)))
    out["hybrid"] = metrics(ranks)
    if hybrid.vectors is not None and question_vectors is not None:
        # The dense score alone as the product computes it (centred, see VectorStore.nearest).
        ranks = []
        for qi in range(len(queries)):
            _, _, nearest = hybrid.vectors.nearest(query_vectors[qi], language=None,
                                                   skip={qi} if leave_one_out else set(), count=top,
                                                   centre_from=tuning.centre_from)
            hits = [Hit(doc_id=d, score=c, confidence=0.0, bm25=0.0) for d, c in nearest]
            ranks.append(rank_of(hits, lambda d, qi=qi: good(qi, d)))
        out["e5_centred"] = metrics(ranks)
    return out


def latency(n_articles: int, embedder: E5Embedder | None, tuning: Tuning,
            faq: list[dict[str, str]], ja: list[tuple[str, str, str]], ja_vectors: np.ndarray | None,
            en_vectors: np.ndarray | None, question_vectors: np.ndarray | None) -> dict[str, Any]:
    rng = random.Random(7)
    sources: list[tuple[str, str, str, int]] = []  # language, question, answer, index of its vector
    for i, row in enumerate(faq):
        sources.append(("en", row["q"], row["a"], i))
    for i, (q, a, _) in enumerate(ja):
        sources.append(("ja", q, a, len(faq) + i))
    vectors = None
    if en_vectors is not None and ja_vectors is not None:
        vectors = np.concatenate([en_vectors, ja_vectors])
    index = SearchIndex(tuning=tuning)
    started = time.perf_counter()
    for doc_id in range(n_articles):
        language, question, answer, vi = sources[doc_id % len(sources)]
        variant = doc_id // len(sources)
        suffix = f" ({variant})" if variant else ""
        index.upsert(Doc(id=doc_id, language=language, title=question + suffix, questions=(question,),
                         answer=answer + suffix), vectors[vi] if vectors is not None else None,
                     question_vectors[vi] if question_vectors is not None else None)
    build_s = time.perf_counter() - started
    queries = [(s[0], s[1]) for s in rng.sample(sources, 300)]
    # As the service does it: the query is embedded in another thread (C code, no GIL) while BM25 runs.
    total: list[float] = []
    lexical_only: list[float] = []
    embed_only: list[float] = []
    with ThreadPoolExecutor(1) as pool:
        for language, query in queries:
            t0 = time.perf_counter()
            future = pool.submit(embedder.query, query) if embedder is not None else None
            t1 = time.perf_counter()
            lexical = index.lexical(query, language=language)
            t2 = time.perf_counter()
            vector = future.result() if future is not None else None
            t3 = time.perf_counter()
            index.search(query, language=language, top=5, query_vector=vector, lexical=lexical)
            t4 = time.perf_counter()
            total.append((t4 - t0) * 1000)
            lexical_only.append((t2 - t1) * 1000)
            embed_only.append((t3 - t0) * 1000)
    out: dict[str, Any] = {"articles": n_articles, "queries": len(total), "semantic": embedder is not None,
                           "index_build_s": round(build_s, 2), **percentiles(total)}
    out["bm25_only"] = percentiles(lexical_only)
    if embedder is not None:
        out["until_query_embedded"] = percentiles(embed_only)
    return out


def percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(ordered[int(0.95 * len(ordered)) - 1], 2),
            "p99_ms": round(ordered[int(0.99 * len(ordered)) - 1], 2)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-semantic", action="store_true", help="BM25 only")
    parser.add_argument("--articles", type=int, default=10_000, help="articles for the latency run")
    parser.add_argument("--bm25-share", type=float, default=None, help="override the hybrid's BM25 share")
    args = parser.parse_args(argv)
    tuning = Tuning() if args.bm25_share is None else Tuning(bm25_share=args.bm25_share)
    embedder = None if args.no_semantic else E5Embedder()

    faq = zaragoza()
    en_docs = [Doc(id=i, language="en", title="", answer=row["a"]) for i, row in enumerate(faq)]
    en_queries = [row["q"] for row in faq]
    ja = chatterbot_japanese()
    categories = [c for _, _, c in ja]
    ja_docs = [Doc(id=i, language="ja", title="", questions=(q,)) for i, (q, _, _) in enumerate(ja)]
    ja_queries = [q for q, _, _ in ja]

    en_doc_v = en_q_v = ja_doc_v = ja_q_v = None
    if embedder is not None:
        en_doc_v = cached_vectors(embedder.passages, [d.answer for d in en_docs], "en-passage")
        en_q_v = cached_vectors(lambda ts: [embedder.query(t) for t in ts], en_queries, "en-query")
        ja_doc_v = cached_vectors(embedder.passages, ja_queries, "ja-passage")
        ja_q_v = cached_vectors(lambda ts: [embedder.query(t) for t in ts], ja_queries, "ja-query")

    result = {
        "zaragoza_construction_faq": evaluate(en_docs, en_queries, en_doc_v, en_q_v,
                                              lambda qi, d: qi == d, False, tuning),
        # A doc's question is the query text itself here, so its question vector is the query vector.
        "chatterbot_japanese_category": evaluate(ja_docs, ja_queries, ja_doc_v, ja_q_v,
                                                 lambda qi, d: categories[qi] == categories[d], True, tuning,
                                                 question_vectors=ja_q_v),
        "latency": latency(args.articles, embedder, tuning, faq, ja, ja_doc_v, en_doc_v,
                           None if en_q_v is None or ja_q_v is None else np.concatenate([en_q_v, ja_q_v])),
        "tuning": {"bm25_share": tuning.bm25_share, "cosine_floor": tuning.cosine_floor,
                   "cosine_ceiling": tuning.cosine_ceiling, "candidates": tuning.candidates,
                   "centre_from": tuning.centre_from},
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for name, section in result.items():
            print(name, json.dumps(section, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
