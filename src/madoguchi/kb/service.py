"""The knowledge base at run time: one search index per process, loaded on first use, kept fresh
by ``kb.article_changed`` events and a cheap check for changes made by other processes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from madoguchi.db.uow import Database, UnitOfWork
from madoguchi.kb import queries
from madoguchi.kb.actions import ARTICLE_CHANGED
from madoguchi.kb.index import Doc, SearchIndex, Vector
from madoguchi.kb.models import Article, ArticleVector
from madoguchi.kb.semantic import (
    ArticleVectors,
    Embedder,
    digest,
    embed_articles,
    load_embedder,
    passage_text,
    question_text,
    stored_model,
)
from madoguchi.kernel.events import Envelope

logger = logging.getLogger(__name__)

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
QUERY_CACHE = 2048


@dataclass(frozen=True)
class SearchResult:
    article_id: int
    external_id: str | None
    title: str
    answer: str
    language: str
    category: str | None
    score: float
    confidence: float


@dataclass(frozen=True)
class _Meta:
    external_id: str | None
    title: str
    answer: str
    language: str
    category: str | None
    version: int


def _doc(article: Article) -> Doc:
    return Doc(id=article.id, language=article.language, title=article.title,
               questions=tuple(article.questions), answer=article.answer)


def _text(article: Article) -> str:
    return passage_text(article.title, article.questions, article.answer)


def _texts(article: Article) -> tuple[str, str]:
    return _text(article), question_text(article.title, article.questions)


def _digest(article: Article) -> str:
    passage, question = _texts(article)
    return digest(f"{passage}\x00{question}")


async def do_store_vectors(uow: UnitOfWork, *, embedder: Embedder, articles: list[Article]) -> None:
    """Embed these articles now and store their vectors (the demo seed does it once, so no process
    embeds the demo articles again)."""
    vectors = await asyncio.to_thread(embed_articles, embedder, [_texts(a) for a in articles])
    for article, pair in zip(articles, vectors, strict=True):
        uow.session.add(ArticleVector(article_id=article.id, model=stored_model(embedder), digest=_digest(article),
                                      vector=pair.to_bytes()))


def _upsert(index: SearchIndex, article: Article, vectors: ArticleVectors | None) -> None:
    if vectors is None:
        index.upsert(_doc(article))
    else:
        index.upsert(_doc(article), vectors.passage, vectors.question)


class KnowledgeBase:
    def __init__(self, db: Database, *, semantic: str = "auto", refresh_s: float = 5.0) -> None:
        self.db = db
        self.semantic = semantic
        self.refresh_s = refresh_s
        self.index = SearchIndex()
        self.embedder: Embedder | None = None
        self._meta: dict[int, _Meta] = {}
        self._loaded = False
        self._lock = asyncio.Lock()
        self._checked = 0.0
        self._seen: datetime | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Customers ask the same few questions: their vectors are worth keeping (about 1.5 kB each).
        self._query_vectors: OrderedDict[str, Vector] = OrderedDict()

    async def _embed_query(self, embedder: Embedder, query: str) -> Vector:
        vector = self._query_vectors.get(query)
        if vector is None:
            vector = await asyncio.to_thread(embedder.query, query)
            self._query_vectors[query] = vector
            if len(self._query_vectors) > QUERY_CACHE:
                self._query_vectors.popitem(last=False)
        else:
            self._query_vectors.move_to_end(query)
        return vector

    # -- loading --
    async def ensure_ready(self) -> None:
        if self._loaded:
            await self._maybe_catch_up()
            return
        async with self._lock:
            if self._loaded:
                return
            self.embedder = await asyncio.to_thread(load_embedder, self.semantic)
            async with self.db.read() as session:
                self._seen = await queries.latest_change(session)
                articles = await queries.published(session)
            vectors = await self._vectors(articles)
            index = SearchIndex()
            await asyncio.to_thread(self._fill, index, articles, vectors)
            self.index = index
            self._meta = {a.id: self._meta_of(a) for a in articles}
            self._loaded = True
            self._checked = time.monotonic()
            logger.info("knowledge base loaded: %s articles, semantic %s", len(articles),
                        "on" if self.embedder is not None else "off")

    @staticmethod
    def _meta_of(article: Article) -> _Meta:
        return _Meta(article.external_id, article.title, article.answer, article.language, article.category,
                     article.version)

    @staticmethod
    def _fill(index: SearchIndex, articles: list[Article], vectors: dict[int, ArticleVectors]) -> None:
        for article in articles:
            _upsert(index, article, vectors.get(article.id))

    async def _vectors(self, articles: list[Article]) -> dict[int, ArticleVectors]:
        """Stored vectors, computing (and storing) those missing or stale."""
        embedder = self.embedder
        if embedder is None or not articles:
            return {}
        model = stored_model(embedder)
        async with self.db.read() as session:
            stored = await queries.vectors_for(session, model, [a.id for a in articles])
        out: dict[int, ArticleVectors] = {}
        missing: list[Article] = []
        for article in articles:
            row = stored.get(article.id)
            if row is not None and row.digest == _digest(article):
                try:
                    out[article.id] = ArticleVectors.from_bytes(row.vector, embedder.dim)
                    continue
                except ValueError as error:  # a damaged row is embedded again
                    logger.warning("kb vector of article %s: %s", article.id, error)
            missing.append(article)
        for start in range(0, len(missing), 32):
            batch = missing[start:start + 32]
            fresh = await asyncio.to_thread(embed_articles, embedder, [_texts(a) for a in batch])
            async with self.db.uow() as uow:
                for article, pair in zip(batch, fresh, strict=True):
                    row = await uow.session.get(ArticleVector, article.id)
                    if row is None:
                        row = ArticleVector(article_id=article.id, model=model, digest="", vector=b"")
                        uow.session.add(row)
                    row.model, row.digest, row.vector = model, _digest(article), pair.to_bytes()
                    out[article.id] = pair
        return out

    async def sync_vectors(self) -> int:
        """Embed every published article that has no current vector; returns how many were missing."""
        await self.ensure_ready()
        if self.embedder is None:
            return 0
        async with self.db.read() as session:
            articles = await queries.published(session)
            stored = await queries.vectors_for(session, stored_model(self.embedder))
        stale = [a for a in articles if a.id not in stored or stored[a.id].digest != _digest(a)]
        await self._vectors(stale)
        return len(stale)

    # -- freshness --
    async def refresh(self, article_ids: Iterable[int]) -> None:
        """Bring these articles' index entries up to date with the database."""
        ids = sorted(set(article_ids))
        if not ids or not self._loaded:
            return
        async with self.db.read() as session:
            articles = {a.id: a for a in await queries.published(session, ids)}
        vectors = await self._vectors(list(articles.values()))
        for article_id in ids:
            article = articles.get(article_id)
            if article is None:
                self.index.remove(article_id)
                self._meta.pop(article_id, None)
            else:
                _upsert(self.index, article, vectors.get(article_id))
                self._meta[article_id] = self._meta_of(article)

    async def _maybe_catch_up(self) -> None:
        """At most every ``refresh_s``: pick up articles another process saved (the CLI, a node
        without a shared bus)."""
        if time.monotonic() - self._checked < self.refresh_s:
            return
        self._checked = time.monotonic()
        async with self.db.read() as session:
            latest = await queries.latest_change(session)
            if latest is None or (self._seen is not None and latest <= self._seen):
                return
            changed = await queries.changed_since(session, self._seen or EPOCH)
        self._seen = latest
        await self.refresh([a for a, v in changed if a not in self._meta or self._meta[a].version != v])

    def on_event(self, envelope: Envelope) -> None:
        """Bus subscriber: must not block, so the refresh runs as a task."""
        if envelope.type != ARTICLE_CHANGED or not self._loaded:
            return
        task = asyncio.get_running_loop().create_task(self.refresh([int(envelope.data["article_id"])]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- search --
    async def search(self, query: str, *, language: str | None = None, top: int = 5,
                     exclude: Iterable[int] = ()) -> list[SearchResult]:
        await self.ensure_ready()
        if self._tasks:
            # An article just changed on this instance: let its refresh land first, so whoever
            # published it finds it (read your own writes).
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        query = query.strip()
        if not query:
            return []
        embedding = None
        if self.embedder is not None and self.index.vectors is not None:
            # The model runs in C without the GIL: BM25 runs here meanwhile.
            embedding = asyncio.ensure_future(self._embed_query(self.embedder, query))
        lexical = self.index.lexical(query, language=language, exclude=exclude)
        vector = await embedding if embedding is not None else None
        hits = self.index.search(query, language=language, top=top, query_vector=vector, lexical=lexical)
        results = []
        for hit in hits:
            meta = self._meta.get(hit.doc_id)
            if meta is None:
                continue
            results.append(SearchResult(article_id=hit.doc_id, external_id=meta.external_id, title=meta.title,
                                        answer=meta.answer, language=meta.language, category=meta.category,
                                        score=round(hit.score, 4), confidence=hit.confidence))
        return results

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
