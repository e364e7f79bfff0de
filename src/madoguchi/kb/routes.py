"""Knowledge-base API: articles, versions, import/export, search, and agent suggestions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from madoguchi.api.deps import CtxDep, require
from madoguchi.contacts.access import access_contact
from madoguchi.contacts.models import Message
from madoguchi.customers.models import Customer
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm
from madoguchi.kb import actions, queries, transfer
from madoguchi.kb.schemas import ArticleIn, ArticleOut, ArticleVersionOut, ImportResult, SearchHitOut
from madoguchi.kb.service import SearchResult
from madoguchi.kb.text import has_japanese
from madoguchi.kernel.errors import InvalidInput

router = APIRouter(tags=["knowledge base"])

Lang = Annotated[Literal["ja", "en"] | None, Query()]


def _hit(result: SearchResult) -> SearchHitOut:
    return SearchHitOut(article_id=result.article_id, external_id=result.external_id, title=result.title,
                        answer=result.answer, language=result.language, category=result.category,
                        score=result.score, confidence=result.confidence)


@router.get("/kb/articles", response_model=list[ArticleOut])
async def list_articles(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_KB)], language: Lang = None,
                        status: Annotated[Literal["draft", "published", "archived"] | None, Query()] = None,
                        q: Annotated[str | None, Query(max_length=200)] = None,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        offset: Annotated[int, Query(ge=0)] = 0) -> list[ArticleOut]:
    async with ctx.db.read() as session:
        rows = await queries.list_articles(session, language=language, status=status, text=q, limit=limit,
                                           offset=offset)
    return [ArticleOut.model_validate(a) for a in rows]


@router.post("/kb/articles", response_model=ArticleOut, status_code=201)
async def create_article(body: ArticleIn, ctx: CtxDep, user: Annotated[User, require(Perm.MANAGE_KB)]) -> ArticleOut:
    async with ctx.db.uow() as uow:
        article = await actions.check_create_article(uow, actor=user, data=body)
        return ArticleOut.model_validate(article)


@router.get("/kb/articles/{article_id}", response_model=ArticleOut)
async def get_article(article_id: int, ctx: CtxDep, _user: Annotated[User, require(Perm.READ_KB)]) -> ArticleOut:
    async with ctx.db.read() as session:
        return ArticleOut.model_validate(await queries.article(session, article_id))


@router.put("/kb/articles/{article_id}", response_model=ArticleOut)
async def update_article(article_id: int, body: ArticleIn, ctx: CtxDep,
                         user: Annotated[User, require(Perm.MANAGE_KB)]) -> ArticleOut:
    async with ctx.db.uow() as uow:
        article = await actions.check_update_article(uow, actor=user, article_id=article_id, data=body)
        return ArticleOut.model_validate(article)


@router.delete("/kb/articles/{article_id}", status_code=204)
async def archive_article(article_id: int, ctx: CtxDep, user: Annotated[User, require(Perm.MANAGE_KB)]) -> None:
    async with ctx.db.uow() as uow:
        await actions.check_archive_article(uow, actor=user, article_id=article_id)


@router.get("/kb/articles/{article_id}/versions", response_model=list[ArticleVersionOut])
async def article_versions(article_id: int, ctx: CtxDep,
                           _user: Annotated[User, require(Perm.READ_KB)]) -> list[ArticleVersionOut]:
    async with ctx.db.read() as session:
        return [ArticleVersionOut.model_validate(v) for v in await queries.versions_of(session, article_id)]


@router.post("/kb/import", response_model=ImportResult)
async def import_articles(request: Request, ctx: CtxDep,
                          user: Annotated[User, require(Perm.MANAGE_KB)]) -> ImportResult:
    """Body: a JSON list (application/json) or CSV (text/csv)."""
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the file must be UTF-8") from None
    kind = "csv" if "csv" in request.headers.get("content-type", "") else None
    articles = transfer.to_articles(transfer.parse_rows(text, kind=kind))
    async with ctx.db.uow() as uow:
        return await actions.do_import(uow, actor=user, articles=articles)


@router.get("/kb/export")
async def export_articles(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_KB)],
                          format: Annotated[Literal["json", "csv"], Query()] = "json") -> Response:
    async with ctx.db.read() as session:
        body = transfer.export_text(await queries.exportable(session), format)
    media = "application/json" if format == "json" else "text/csv; charset=utf-8"
    return Response(body, media_type=media,
                    headers={"content-disposition": f'attachment; filename="knowledge-base.{format}"'})


@router.get("/kb/search", response_model=list[SearchHitOut])
async def search(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_KB)],
                 q: Annotated[str, Query(min_length=1, max_length=1000)], language: Lang = None,
                 top: Annotated[int, Query(ge=1, le=50)] = 5) -> list[SearchHitOut]:
    return [_hit(r) for r in await ctx.kb.search(q, language=language, top=top)]


@router.get("/contacts/{contact_id}/suggestions", response_model=list[SearchHitOut])
async def suggestions(contact_id: int, ctx: CtxDep, user: Annotated[User, require(Perm.READ_KB)],
                      top: Annotated[int, Query(ge=1, le=10)] = 3) -> list[SearchHitOut]:
    """Agent assist: articles for what the customer wrote last."""
    async with ctx.db.read() as session:
        contact = await access_contact(session, user, contact_id)
        bodies = list((await session.scalars(
            select(Message.body).where(Message.contact_id == contact_id, Message.author_kind == "customer",
                                       Message.kind == "text").order_by(Message.id.desc()).limit(3))).all())
        language = await session.scalar(select(Customer.language).where(Customer.id == contact.customer_id))
    if not bodies:
        return []
    # Newest first: the embedded query keeps only its first tokens (semantic.QUERY_TOKENS).
    text = "\n".join(bodies)
    if language not in ("ja", "en"):
        language = "ja" if has_japanese(text) else "en"
    return [_hit(r) for r in await ctx.kb.search(text, language=language, top=top)]
