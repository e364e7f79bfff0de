"""Writes for articles: every save adds a version, emits ``kb.article_changed`` and is audited."""

from __future__ import annotations

from sqlalchemy import select

from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.kb.models import Article, ArticleVersion
from madoguchi.kb.schemas import ArticleIn, ImportResult
from madoguchi.kernel.errors import Conflict, NotFound
from madoguchi.kernel.events import Event

ARTICLE_CHANGED = "kb.article_changed"
_FIELDS = ("title", "questions", "answer", "language", "category", "tags", "status")


def article_changed(article_id: int) -> Event:
    # No audience: it goes to the bus only, so every instance refreshes its search index.
    return Event(ARTICLE_CHANGED, {"article_id": article_id}, ())


async def get_article(uow: UnitOfWork, article_id: int, *, for_update: bool = False) -> Article:
    article = await uow.session.get(Article, article_id, with_for_update=for_update)
    if article is None:
        raise NotFound("article", article_id)
    return article


async def _check_external_id(uow: UnitOfWork, external_id: str | None, article_id: int | None) -> None:
    if external_id is None:
        return
    owner = await uow.session.scalar(select(Article.id).where(Article.external_id == external_id))
    if owner is not None and owner != article_id:
        raise Conflict(f"another article has the id {external_id}", field="external_id")


def _record_version(uow: UnitOfWork, article: Article, author: User | None) -> None:
    uow.session.add(ArticleVersion(article_id=article.id, version=article.version, language=article.language,
                                   category=article.category, tags=list(article.tags), status=article.status,
                                   title=article.title, questions=list(article.questions), answer=article.answer,
                                   author_user_id=author.id if author else None, created_at=uow.clock.now()))


async def do_create_article(uow: UnitOfWork, *, actor: User | None, data: ArticleIn) -> Article:
    now = uow.clock.now()
    article = Article(external_id=data.external_id, title=data.title or data.questions[0], questions=data.questions,
                      answer=data.answer, language=data.language, category=data.category, tags=data.tags,
                      status=data.status, version=1, created_at=now, updated_at=now,
                      updated_by=actor.id if actor else None)
    uow.session.add(article)
    await uow.session.flush()
    if article.external_id is None:
        article.external_id = f"kb-{article.id}"  # every article has an id that export/import keep
    _record_version(uow, article, actor)
    uow.emit(article_changed(article.id))
    return article


def _changed(article: Article, data: ArticleIn) -> bool:
    return any(getattr(article, name) != getattr(data, name) for name in _FIELDS)


def do_update_article(uow: UnitOfWork, *, actor: User | None, article: Article, data: ArticleIn) -> bool:
    """Saves a new version when something changed; returns whether it did."""
    if not _changed(article, data):
        return False
    for name in _FIELDS:
        setattr(article, name, getattr(data, name))
    article.version += 1
    article.updated_at = uow.clock.now()
    article.updated_by = actor.id if actor else None
    _record_version(uow, article, actor)
    uow.emit(article_changed(article.id))
    return True


async def check_create_article(uow: UnitOfWork, *, actor: User, data: ArticleIn) -> Article:
    await _check_external_id(uow, data.external_id, None)
    article = await do_create_article(uow, actor=actor, data=data)
    do_audit(uow, actor=actor, action="kb.article_created", target=f"kb_article:{article.id}")
    return article


async def check_update_article(uow: UnitOfWork, *, actor: User, article_id: int, data: ArticleIn) -> Article:
    article = await get_article(uow, article_id, for_update=True)
    if data.external_id is None:
        data = data.model_copy(update={"external_id": article.external_id})
    await _check_external_id(uow, data.external_id, article.id)
    article.external_id = data.external_id
    if do_update_article(uow, actor=actor, article=article, data=data):
        do_audit(uow, actor=actor, action="kb.article_updated", target=f"kb_article:{article.id}",
                 version=article.version)
    return article


async def check_archive_article(uow: UnitOfWork, *, actor: User, article_id: int) -> Article:
    article = await get_article(uow, article_id, for_update=True)
    if article.status != "archived":
        article.status = "archived"
        article.version += 1
        article.updated_at = uow.clock.now()
        article.updated_by = actor.id
        _record_version(uow, article, actor)
        uow.emit(article_changed(article.id))
        do_audit(uow, actor=actor, action="kb.article_archived", target=f"kb_article:{article.id}")
    return article


async def do_import(uow: UnitOfWork, *, actor: User | None, articles: list[ArticleIn]) -> ImportResult:
    """Creates new articles, updates those whose external id exists; one transaction for all."""
    ids = [a.external_id for a in articles if a.external_id]
    existing: dict[str, Article] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = await uow.session.scalars(select(Article).where(Article.external_id.in_(chunk)))
        existing.update({row.external_id: row for row in rows if row.external_id})
    created = updated = unchanged = 0
    article_ids: list[int] = []
    for data in articles:
        article = existing.get(data.external_id) if data.external_id else None
        if article is None:
            article = await do_create_article(uow, actor=actor, data=data)
            created += 1
        elif do_update_article(uow, actor=actor, article=article, data=data):
            updated += 1
        else:
            unchanged += 1
        article_ids.append(article.id)
    await uow.session.flush()
    do_audit(uow, actor=actor, action="kb.imported", target="kb", created=created, updated=updated,
             unchanged=unchanged)
    return ImportResult(created=created, updated=updated, unchanged=unchanged, article_ids=article_ids)
