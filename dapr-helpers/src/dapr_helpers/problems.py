"""RFC 9457 problem details at a FastAPI edge, with a stable machine-readable `code`."""

from typing import Any

from dapr.clients.exceptions import DaprGrpcError, DaprInternalError
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from dapr_helpers.client import DaprHttpError
from dapr_helpers.state import ConcurrencyConflict

PROBLEM_JSON = "application/problem+json"


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
