"""Routes the service-invocation tests call on both contract apps.

`/invoke/echo/...` answers (any verb) with what arrived: verb, path, query,
headers and body; `/invoke/status/{code}` answers that status with a body and
a header of its own, so tests can check that daprd passes all three through.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

VERBS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


def _routes(app: FastAPI, app_id: str, recorder: Any) -> None:
    @app.api_route("/invoke/echo/{rest:path}", methods=VERBS)
    async def echo(rest: str, request: Request) -> Response:
        seen = {
            "app": app_id,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": (await request.body()).decode(),
        }
        recorder.add(f"invoke:{app_id}", seen)
        return JSONResponse(seen, headers={"x-echo-reply": "yes"})

    @app.api_route("/invoke/status/{code}", methods=VERBS)
    async def status(code: int) -> Response:
        return JSONResponse(
            {"status": code, "from": app_id}, status_code=code, headers={"x-echo-reply": "yes"}
        )


def register(main: FastAPI, peer: FastAPI, dapr_app: Any, recorder: Any) -> None:
    _routes(main, "contract", recorder)
    _routes(peer, "contract-peer", recorder)


def echo_app(app_id: str, recorder: Any) -> FastAPI:
    """A standalone app with the echo routes, for private sidecars."""
    app = FastAPI()
    _routes(app, app_id, recorder)
    return app
