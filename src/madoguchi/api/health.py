from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from madoguchi.api.deps import CtxDep, public

router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[public("load balancers and monitors")])
async def healthz(ctx: CtxDep) -> JSONResponse:
    try:
        async with ctx.db.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "not healthy"
        return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    # "active": this instance runs the router now; "standby": another instance holds the lease.
    router = "active" if ctx.settings.router_enabled and ctx.router.lease.held and ctx.router.steps else "standby"
    return JSONResponse({"status": "ok", "database": "ok", "router": router})
