"""The FastAPI scaffolding every participant service shares.

A service serves its public API and OpenAPI docs under its own prefix (so the
ingress routes it without rewriting), answers `/healthz` and `/readyz`, maps errors to
problem details, and consumes one command topic on an internal route that the
public API document does not show.
"""

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute

from dapr_helpers.client import DaprHttp
from dapr_helpers.logging import configure_logging
from dapr_helpers.problems import install_problem_handlers
from dapr_helpers.pubsub import DaprPublisher, Publisher, handle_cloud_event
from dapr_helpers.settings import ServiceSettings
from dapr_helpers.state import StateStore

C = TypeVar("C")
S = TypeVar("S", bound=ServiceSettings)


class CommandHandler(Protocol):
    def handle(self, command: Any) -> Awaitable[object]: ...


@asynccontextmanager
async def _close_dapr_client(app: FastAPI) -> AsyncIterator[None]:
    yield
    client = getattr(app.state, "dapr_client", None)
    if client is not None:
        await client.close()


def service_app(name: str, description: str) -> FastAPI:
    """An app whose docs live at `/{name}/docs`, with problem details and `/healthz`."""
    app = FastAPI(
        title=name,
        description=description,
        docs_url=f"/{name}/docs",
        openapi_url=f"/{name}/openapi.json",
        redoc_url=None,
        lifespan=_close_dapr_client,
    )
    install_problem_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        """Kubernetes' readiness probe: a participant holds no connection it could lose."""
        return {"status": "ready"}

    return app


def with_dapr(name: str, settings: S, build: Callable[[S, StateStore, Publisher], FastAPI]) -> FastAPI:
    """`build` the app on the real Dapr state store and publisher (tests build it on fakes).

    The client connects on first use, so the app starts without a sidecar.
    """
    configure_logging(name, settings.log_level)
    client = DaprHttp()
    app = build(
        settings, StateStore(client, settings.state_store), DaprPublisher(client, settings.pubsub_name)
    )
    app.state.dapr_client = client
    return app


def subscribe_commands(
    app: FastAPI, pubsub: str, topic: str, parse: Callable[[Any], C], public_prefix: str
) -> None:
    """Consume `topic` with `app.state.commands`; what never parses goes to `{topic}-dead`."""
    log = logging.getLogger(f"{app.title}.commands")

    @DaprApp(app).subscribe(pubsub=pubsub, topic=topic, dead_letter_topic=f"{topic}-dead")
    async def on_command(request: Request) -> dict[str, Any]:
        try:
            envelope = json.loads(await request.body())
        except ValueError:
            envelope = None  # not JSON: dropped as malformed
        commands: CommandHandler = request.app.state.commands
        reply = await handle_cloud_event(envelope, parse, commands.handle, log)
        return reply.model_dump()

    for route in app.routes:  # the sidecar's routes stay out of the public API document
        if isinstance(route, APIRoute) and not route.path.startswith(public_prefix):
            route.include_in_schema = False
