"""RFC 9457 problem details at a FastAPI edge, with a stable machine-readable `code`.

Two spellings: the participants title a problem by its code (`install_problem_handlers`);
the order API, which clients call directly, titles it by its HTTP status, names the
request path as `instance` and answers every error, 404s and crashes included, as a
problem (`install_http_problem_handlers`).
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from dapr.clients.exceptions import DaprGrpcError, DaprInternalError
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from dapr_helpers.client import DaprHttpError
from dapr_helpers.state import ConcurrencyConflict

PROBLEM_JSON = "application/problem+json"
HTTP_TITLES = {
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Content",
    503: "Service Unavailable",
}
# The sidecar, a store or a participant did not answer: nothing the client sent is wrong.
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    DaprHttpError,
    DaprInternalError,
    grpc.RpcError,
    ConcurrencyConflict,
    TimeoutError,
    OSError,
)


class Problem(Exception):
    """Raise at the API edge; becomes `application/problem+json` with `status` and `code`."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


def problem_response(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": code.replace("_", " "), "status": status, "code": code}
    body |= {"detail": detail, **extra}
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON)


def _field(error: dict[str, Any]) -> str:
    """`amount`, `login`, `items.0.id`: the location without FastAPI's `body`/`query` prefix."""
    if error.get("type") == "json_invalid":
        return "body"
    loc = list(error.get("loc", ()))
    if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
        loc = loc[1:]
    return ".".join(str(part) for part in loc) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    """Problem details for: `Problem`; request validation (422, naming each field); an ETag
    conflict that outlasted its retries (409); an unreachable sidecar (503)."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc.status, exc.code, exc.detail, **exc.extra)

    async def on_invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"field": _field(err), "message": err["msg"]} for err in exc.errors()]
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        return problem_response(422, "validation_error", detail, errors=errors)

    async def on_conflict(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(409, "concurrent_update", "the record kept changing; try again")

    async def on_unavailable(_: Request, exc: Exception) -> JSONResponse:
        # The sidecar (or its store) is down or slow: the client's request was fine.
        response = problem_response(503, "dapr_unavailable", f"Dapr sidecar unavailable: {exc}")
        response.headers["Retry-After"] = "1"
        return response

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(ConcurrencyConflict, on_conflict)
    for error in (DaprHttpError, DaprGrpcError, DaprInternalError, TimeoutError, ConnectionError):
        app.add_exception_handler(error, on_unavailable)


def map_errors(app: FastAPI, base: type[Exception], statuses: dict[type[Exception], int]) -> None:
    """Answer `base` and its subclasses (each with a class attribute `code`) as problems.

    A class missing from `statuses` is a refused business rule: 409.
    """

    async def on_error(_: Request, exc: Exception) -> JSONResponse:
        status = next((s for cls, s in statuses.items() if isinstance(exc, cls)), 409)
        return problem_response(status, getattr(exc, "code", "conflict"), str(exc))

    app.add_exception_handler(base, on_error)


def http_problem_response(
    request: Request, status: int, code: str, detail: str, **extra: Any
) -> JSONResponse:
    """The HTTP status's title, and the request path as `instance`."""
    body = {"type": "about:blank", "title": HTTP_TITLES.get(status, "Error"), "status": status}
    body |= {"detail": detail, "code": code, "instance": request.url.path, **extra}
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON)


def _field_error(error: dict[str, Any], field_error: type[Exception] | None) -> dict[str, str]:
    """One pydantic error as {field, code, message}; a `field_error` keeps its own code and field."""
    cause = error.get("ctx", {}).get("error")
    if field_error is not None and isinstance(cause, field_error):
        return {"field": cause.field, "code": cause.code, "message": str(cause)}  # type: ignore[attr-defined]
    field = _field(error)
    if error["type"] == "missing":
        code = "missing_field"
    elif error["type"] == "json_invalid":
        code = "malformed_body"
    elif field == "body":
        code = "invalid_body"
    else:
        code = f"invalid_{field.split('.')[0]}"
    return {"field": field, "code": code, "message": error.get("msg", "invalid")}


def install_http_problem_handlers(
    app: FastAPI, field_error: type[Exception] | None = None, log: logging.Logger | None = None
) -> None:
    """Every error as a problem titled by its status: request validation (400 for a body that
    is not JSON, else 422 with the first error's code and `field`); `field_error`, an exception
    with a `field` and a `code` (422); 404, 405 and other HTTP errors; an infrastructure
    failure (503 `dependency_unavailable`); anything else (500 `internal_error`)."""
    log = log or logging.getLogger(f"{app.title}.problems")

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [_field_error(err, field_error) for err in exc.errors()]
        first = errors[0]
        status = 400 if first["code"] == "malformed_body" else 422
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return http_problem_response(
            request, status, first["code"], detail, field=first["field"], errors=errors
        )

    async def on_field_error(request: Request, exc: Exception) -> JSONResponse:
        field, code = exc.field, exc.code  # type: ignore[attr-defined]
        error = {"field": field, "code": code, "message": str(exc)}
        return http_problem_response(request, 422, code, str(exc), field=field, errors=[error])

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return http_problem_response(request, exc.status_code, code, str(exc.detail))

    async def on_infrastructure_error(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s failed on infrastructure: %r", request.method, request.url.path, exc)
        detail = "a backing service is unavailable; try again"
        return http_problem_response(request, 503, "dependency_unavailable", detail)

    async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return http_problem_response(request, 500, "internal_error", "an unexpected error occurred")

    app.add_exception_handler(RequestValidationError, on_invalid)
    if field_error is not None:
        app.add_exception_handler(field_error, on_field_error)
    app.add_exception_handler(HTTPException, on_http_error)
    for error in INFRASTRUCTURE_ERRORS:
        app.add_exception_handler(error, on_infrastructure_error)
    app.add_exception_handler(Exception, on_unexpected_error)


def map_http_errors(app: FastAPI, statuses: dict[type[Exception], int], field: str | None = None) -> None:
    """Answer each class of `statuses` (with a class attribute `code`) as a problem titled by
    its status, naming `field` when given."""
    extra = {"field": field} if field else {}

    def answer(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
        async def on_error(request: Request, exc: Exception) -> JSONResponse:
            return http_problem_response(request, status, getattr(exc, "code", "error"), str(exc), **extra)

        return on_error

    for error, status in statuses.items():
        app.add_exception_handler(error, answer(status))
