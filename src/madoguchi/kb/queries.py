"""Reads for articles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.kb.models import Article, ArticleVector, ArticleVersion
from madoguchi.kernel.errors import NotFound


async def list_articles(session: AsyncSession, *, language: str | None = None, status: str | None = None,
                        text: str | None = None, limit: int = 50, offset: int = 0) -> list[Article]:
    stmt = select(Article)
    if language:
        stmt = stmt.where(Article.language == language)
    stmt = stmt.where(Article.status == status) if status else stmt.where(Article.status != "archived")
    if text:
        like = f"%{text.lower()}%"
        stmt = stmt.where(or_(func.lower(Article.title).like(like), func.lower(Article.external_id).like(like)))
    stmt = stmt.order_by(Article.updated_at.desc(), Article.id.desc()).limit(limit).offset(offset)
    return list((await session.scalars(stmt)).all())


async def article(session: AsyncSession, article_id: int) -> Article:
    found = await session.get(Article, article_id)
    if found is None:
        raise NotFound("article", article_id)
    return found


async def versions_of(session: AsyncSession, article_id: int) -> list[ArticleVersion]:
    await article(session, article_id)
    rows = await session.scalars(select(ArticleVersion).where(ArticleVersion.article_id == article_id)
                                 .order_by(ArticleVersion.version))
    return list(rows.all())


async def exportable(session: AsyncSession) -> list[Article]:
    rows = await session.scalars(select(Article).where(Article.status != "archived").order_by(Article.id))
    return list(rows.all())


async def published(session: AsyncSession, ids: list[int] | None = None) -> list[Article]:
    stmt = select(Article).where(Article.status == "published")
    if ids is not None:
        stmt = stmt.where(Article.id.in_(ids))
    return list((await session.scalars(stmt.order_by(Article.id))).all())


async def changed_since(session: AsyncSession, since: datetime) -> list[tuple[int, int]]:
    """(id, version) of articles saved at or after ``since``."""
    rows = await session.execute(select(Article.id, Article.version).where(Article.updated_at >= since))
    return [(int(a), int(v)) for a, v in rows.all()]


async def latest_change(session: AsyncSession) -> datetime | None:
    value: datetime | None = await session.scalar(select(func.max(Article.updated_at)))
    return value


async def vectors_for(session: AsyncSession, model: str, ids: list[int] | None = None) -> dict[int, ArticleVector]:
    stmt = select(ArticleVector).where(ArticleVector.model == model)
    if ids is not None:
        stmt = stmt.where(ArticleVector.article_id.in_(ids))
    return {row.article_id: row for row in (await session.scalars(stmt)).all()}
