"""DomainError → HTTP, once, at the edge. Every error body has an ``error_id``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from madoguchi.kernel.errors import DomainError

logger = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    error_id: str
    message: str
    details: dict[str, Any] = {}


HTTP_IDS = {400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
            405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
            422: "invalid_input", 429: "rate_limited"}

#: Error responses every route may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": name} for code, name in
    [(400, "bad request"), (401, "not authenticated"), (403, "forbidden"), (404, "not found"),
     (409, "conflict"), (413, "payload too large"), (422, "invalid input"), (429, "rate limited")]
}


def error_body(error_id: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error_id": error_id, "message": message, "details": details or {}}


def _validation_details(exc: RequestValidationError) -> tuple[str, str, dict[str, Any]]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return "malformed_json", "the request body is not valid JSON", {}
    fields = []
    for e in errors[:20]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        fields.append({"field": loc, "problem": str(e.get("msg", ""))})
    summary = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:3])
    return "invalid_input", f"invalid input: {summary}", {"fields": fields}


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body(exc.error_id, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        error_id, message, details = _validation_details(exc)
        status = 400 if error_id == "malformed_json" else 422
        return JSONResponse(error_body(error_id, message, details), status_code=status)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body("internal_error", "something went wrong on our side; it has been logged"),
                            status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error_id = HTTP_IDS.get(exc.status_code, f"http_{exc.status_code}")
        return JSONResponse(error_body(error_id, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
