"""Reports API (docs/reports.md §6): interval reports, CSV, charts, drill-down, definitions, the
wallboard snapshot, the full recompute, and the CSAT survey endpoints."""

from __future__ import annotations

import dataclasses
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from madoguchi.api.deps import CtxDep, public, require
from madoguchi.channels.webchat.actions import session_for_token
from madoguchi.contacts.access import access_contact
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm
from madoguchi.kernel.events import SUPERVISORS, Envelope
from madoguchi.kernel.i18n import negotiate, translate
from madoguchi.reports import actions, charts, csat, drilldown, exports, views, wallboard
from madoguchi.reports.config import load_queue_reporting
from madoguchi.reports.recompute import recompute
from madoguchi.reports.schemas import (
    CsatIn,
    CsatLinkOut,
    CsatOut,
    CsatSurveyOut,
    DefinitionIn,
    DefinitionOut,
    DrillOut,
    LegOut,
    RecomputeOut,
    ReportOut,
)

router = APIRouter(tags=["reports"])

LOCALE_DIR = str(FilePath(__file__).resolve().parents[1] / "web" / "locale")
Params = Annotated[views.ReportParams, Query()]
Reader = Annotated[User, require(Perm.READ_REPORTS)]
TokenHeader = Annotated[str | None, Header(alias="X-Widget-Token", max_length=200)]


def _language(request: Request, params: views.ReportParams | None = None) -> str:
    return negotiate(request.headers.get("accept-language"), params.lang if params else None)


def _t(language: str) -> Any:
    return lambda key: translate(LOCALE_DIR, language, key)


def _filter(ctx: CtxDep, params: views.ReportParams, interval_start: str | None) -> drilldown.LegFilter:
    window = views.window_of(params, ctx.settings, ctx.clock.now())
    start_ms, end_ms = window.start_ms, window.end_ms
    if interval_start:
        start_ms, end_ms = window.interval_bounds(interval_start)
    return drilldown.LegFilter(start_ms=start_ms, end_ms=end_ms, queue_ids=params.queue_id, channel=params.channel,
                               agent_ids=params.agent_id, team_id=params.team_id)


@router.get("/reports/contacts.csv", response_class=StreamingResponse)
async def contacts_csv(request: Request, ctx: CtxDep, params: Params, _user: Reader) -> StreamingResponse:
    language = _language(request, params)
    leg_filter = _filter(ctx, params, None)

    async def body() -> Any:
        async with ctx.db.read() as session:
            reporting = await load_queue_reporting(session, short_abandon_s=ctx.settings.short_abandon_s)
            rows = drilldown.contact_rows(session, leg_filter, reporting=reporting, language=language)
            async for chunk in exports.contacts_csv(rows, drilldown.CONTACT_COLUMNS, _t(language),
                                                    timezone=ctx.settings.timezone):
                yield chunk.encode("utf-8")

    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"content-disposition": 'attachment; filename="contacts.csv"'})


class DrillParams(views.ReportParams):
    metric: drilldown.Metric = "offered"
    interval_start: str | None = Field(default=None, max_length=40)
    disposition_id: int | None = None
    limit: int = Field(default=200, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


@router.get("/reports/contacts", response_model=DrillOut)
async def drill_down(request: Request, ctx: CtxDep, params: Annotated[DrillParams, Query()],
                     _user: Reader) -> DrillOut:
    """The legs behind a number: ``metric`` names the figure, ``interval_start`` (from a report
    row) narrows it to that interval."""
    language = _language(request, params)
    leg_filter = dataclasses.replace(_filter(ctx, params, params.interval_start),
                                     disposition_id=params.disposition_id)
    async with ctx.db.read() as session:
        reporting = await load_queue_reporting(session, short_abandon_s=ctx.settings.short_abandon_s)
        total, rows = await drilldown.drill(session, leg_filter, metric=params.metric, reporting=reporting,
                                            zone=views.window_of(params, ctx.settings, ctx.clock.now()).zone,
                                            language=language, limit=params.limit, offset=params.offset)
    return DrillOut(metric=params.metric, total=total, legs=[LegOut(**row) for row in rows])


@router.get("/reports/charts/{chart}.svg", response_class=Response)
async def chart(request: Request, chart: Literal["service_level", "volume", "abandon", "aht", "occupancy"],
                ctx: CtxDep, params: Params, _user: Reader) -> Response:
    language = _language(request, params)
    kind: views.Kind = "agents" if chart == "occupancy" else "queues"
    if kind == "queues" and params.view is None:
        params = params.model_copy(update={"view": "all"})
    report = await views.build_report(ctx.db, ctx.settings, kind, params, language=language)
    return Response(charts.chart(report, chart, _t(language)), media_type="image/svg+xml",
                    headers={"cache-control": "no-store"})


@router.get("/reports/definitions", response_model=list[DefinitionOut])
async def list_definitions(ctx: CtxDep, _user: Reader) -> list[DefinitionOut]:
    async with ctx.db.read() as session:
        reporting = await load_queue_reporting(session, short_abandon_s=ctx.settings.short_abandon_s)
    return [DefinitionOut(queue_id=q, queue_name=r.name, custom=r.custom, definition=r.definition.stated(),
                          thresholds=r.thresholds) for q, r in reporting.items()]


@router.put("/reports/definitions/{queue_id}", response_model=DefinitionOut)
async def set_definition(queue_id: int, body: DefinitionIn, ctx: CtxDep,
                         user: Annotated[User, require(Perm.MANAGE_QUEUES)]) -> DefinitionOut:
    async with ctx.db.uow() as uow:
        updated = await actions.check_set_definition(uow, actor=user, queue_id=queue_id, data=body,
                                                     short_abandon_s=ctx.settings.short_abandon_s,
                                                     timezone=ctx.settings.timezone)
    return DefinitionOut(queue_id=queue_id, queue_name=updated.name, custom=True,
                         definition=updated.definition.stated(), thresholds=updated.thresholds)


@router.post("/reports/recompute", response_model=RecomputeOut)
async def full_recompute(ctx: CtxDep, _user: Annotated[User, require(Perm.MANAGE_QUEUES)]) -> RecomputeOut:
    """Rebuild every roll-up from the raw events (minutes on a large center: prefer the CLI)."""
    timings = await recompute(ctx.db, timezone=ctx.settings.timezone, fcr_window_days=ctx.settings.fcr_window_days,
                              short_abandon_s=ctx.settings.short_abandon_s)
    await ctx.bus.publish(Envelope(id=None, type="report.definition_changed", data={}, audience=(SUPERVISORS,)))
    return RecomputeOut(seconds=timings.seconds, rows=timings.rows)


@router.get("/reports/wallboard")
async def wallboard_snapshot(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_AGENTS)]) -> dict[str, Any]:
    """The whole wallboard now; ``wallboard.updated`` events on the socket carry what changes."""
    return await wallboard.snapshot(ctx.db, timezone=ctx.settings.timezone,
                                    short_abandon_s=ctx.settings.short_abandon_s)


@router.get("/reports/{kind}.csv", response_class=Response)
async def report_csv(request: Request, kind: views.Kind, ctx: CtxDep, params: Params, _user: Reader) -> Response:
    language = _language(request, params)
    report = await views.build_report(ctx.db, ctx.settings, kind, params, language=language)
    return Response(exports.report_csv(report, _t(language), language=language).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{kind}.csv"'})


@router.get("/reports/{kind}", response_model=ReportOut)
async def report(request: Request, kind: views.Kind, ctx: CtxDep, params: Params, _user: Reader) -> ReportOut:
    return await views.build_report(ctx.db, ctx.settings, kind, params, language=_language(request, params))


# CSAT ---------------------------------------------------------------------------------------------

@router.post("/widget/csat", response_model=CsatOut, status_code=201,
             dependencies=[public("web-chat visitors authenticate with the widget token")])
async def widget_csat(body: CsatIn, ctx: CtxDep, token: TokenHeader = None) -> CsatOut:
    async with ctx.db.uow() as uow:
        session = await session_for_token(uow, token)
        survey = await csat.check_widget_answer(uow, session=session, data=body)
    return CsatOut(contact_id=survey.contact_id, score=survey.score, answered_at=survey.answered_at)


@router.post("/contacts/{contact_id}/csat-link", response_model=CsatLinkOut, status_code=201)
async def csat_link(contact_id: int, ctx: CtxDep, user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> CsatLinkOut:
    """A survey link to put in an email reply (placeholder API: the email templates will carry it)."""
    async with ctx.db.uow() as uow:
        contact = await access_contact(uow.session, user, contact_id)
        token, expires_at = await csat.do_create_link(uow, contact=contact)
    return CsatLinkOut(contact_id=contact_id, url=f"/api/v1/csat/{token}", token=token, expires_at=expires_at)


SURVEY_LINK = public("a customer follows the survey link from an email; the token is the credential")


@router.get("/csat/{token}", response_model=CsatSurveyOut, dependencies=[SURVEY_LINK])
async def csat_survey(token: Annotated[str, Path(max_length=100)], ctx: CtxDep) -> CsatSurveyOut:
    async with ctx.db.read() as session:
        return await csat.survey_for_token(session, token, ctx.clock.now())


@router.post("/csat/{token}", response_model=CsatOut, status_code=201, dependencies=[SURVEY_LINK])
async def csat_answer(token: Annotated[str, Path(max_length=100)], body: CsatIn, ctx: CtxDep) -> CsatOut:
    async with ctx.db.uow() as uow:
        survey = await csat.check_link_answer(uow, token=token, data=body)
    return CsatOut(contact_id=survey.contact_id, score=survey.score, answered_at=survey.answered_at)

