"""Errors as RFC 9457 problem details, each with a stable `code` and the field it is about."""

import logging
from typing import Any

import grpc
from dapr.clients.exceptions import DaprInternalError
from dapr_helpers.client import DaprHttpError
from dapr_helpers.state import ConcurrencyConflict
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from order_app.adapters.directory import DirectoryUnavailable
from order_app.domain import InvalidOrder
from order_app.service import IdempotencyKeyInFlight, IdempotencyKeyReused, SagaUnavailable

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Content",
    503: "Service Unavailable",
}


def problem(request: Request, status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def field_error(err: dict[str, Any]) -> dict[str, str]:
    """One pydantic error as {field, code, message}; domain errors keep their own code."""
    loc = [str(part) for part in err.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:]
    field = ".".join(loc) or "body"
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, InvalidOrder):
        return {"field": cause.field, "code": cause.code, "message": str(cause)}
    if err["type"] == "missing":
        code = "missing_field"
    elif err["type"] == "json_invalid":
        code, field = "malformed_body", "body"
    elif field == "body":
        code = "invalid_body"
    else:
        code = f"invalid_{loc[0]}"
    return {"field": field, "code": code, "message": err.get("msg", "invalid")}


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [field_error(err) for err in exc.errors()]
    first = errors[0]
    status = 400 if first["code"] == "malformed_body" else 422
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(request, status, first["code"], detail, field=first["field"], errors=errors)


async def on_invalid_order(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidOrder)
    error = {"field": exc.field, "code": exc.code, "message": str(exc)}
    return problem(request, 422, exc.code, str(exc), field=exc.field, errors=[error])


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return problem(request, exc.status_code, code, str(exc.detail))


def _simple(status: int, field: str | None = None) -> Any:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        extra = {"field": field} if field else {}
        return problem(request, status, getattr(exc, "code", "error"), str(exc), **extra)

    return handle


async def on_infrastructure_error(request: Request, exc: Exception) -> JSONResponse:
    """The sidecar or a store did not answer: nothing the client sent is wrong, so 503."""
    log.warning("%s %s failed on infrastructure: %r", request.method, request.url.path, exc)
    return problem(request, 503, "dependency_unavailable", "a backing service is unavailable; try again")


async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "internal_error", "an unexpected error occurred")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(InvalidOrder, on_invalid_order)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(IdempotencyKeyReused, _simple(422, "Idempotency-Key"))
    app.add_exception_handler(IdempotencyKeyInFlight, _simple(409, "Idempotency-Key"))
    app.add_exception_handler(DirectoryUnavailable, _simple(503))
    app.add_exception_handler(SagaUnavailable, _simple(503))
    infrastructure_errors = (
        DaprHttpError,
        DaprInternalError,
        grpc.RpcError,
        ConcurrencyConflict,
        TimeoutError,
        OSError,
    )
    for infrastructure in infrastructure_errors:
        app.add_exception_handler(infrastructure, on_infrastructure_error)
    app.add_exception_handler(Exception, on_unexpected_error)
