"""The FastAPI scaffolding every service shares.

A service serves its public API and OpenAPI docs under its own prefix (so the
ingress routes it without rewriting), answers `/healthz` and `/readyz`, serves Prometheus
metrics at `/metrics` (`dapr_helpers.metrics`), maps errors to
problem details, and keeps the sidecar's internal routes out of the public API document.
Once told to stop it refuses new requests (503, `Retry-After`) and ends its waits: `dapr_helpers.shutdown`.
A participant also takes its saga commands on two internal routes: by service
invocation (`COMMANDS_METHOD`, answered at once) and from its command topic.
"""

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVar

from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from opentelemetry import trace
from pydantic import ValidationError

from dapr_helpers.client import DaprHttp
from dapr_helpers.docs import add_swagger_ui
from dapr_helpers.logging import bind_order, configure_logging
from dapr_helpers.metrics import count_malformed, install_metrics
from dapr_helpers.problems import _field as problem_field
from dapr_helpers.problems import install_problem_handlers, problem_response
from dapr_helpers.pubsub import DaprPublisher, DaprStatus, Publisher, event_data, handle_cloud_event
from dapr_helpers.saga.contract import COMMANDS_METHOD, Reply
from dapr_helpers.settings import ServiceSettings
from dapr_helpers.shutdown import Shutdown, refuse_while_stopping, watching
from dapr_helpers.state import StateStore
from dapr_helpers.tracing import instrument, message_span

C = TypeVar("C")
S = TypeVar("S", bound=ServiceSettings)


class CommandHandler(Protocol):
    def handle(self, command: Any) -> Awaitable[object]: ...
    def answer(self, command: Any) -> Awaitable[Reply]: ...


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def _nothing(app: FastAPI) -> AsyncIterator[None]:
    yield


def _closing_dapr_client(lifespan: Lifespan) -> Lifespan:
    """`lifespan`, then `app.state.dapr_client` closed on shutdown."""

    @asynccontextmanager
    async def close_dapr_client(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            yield
        client = getattr(app.state, "dapr_client", None)
        if client is not None:
            await client.close()

    return close_dapr_client


def service_app(
    name: str,
    description: str,
    *,
    prefix: str | None = None,
    lifespan: Lifespan = _nothing,
    problems: Callable[[FastAPI], None] = install_problem_handlers,
    probes: bool = True,
) -> FastAPI:
    """An app whose docs live at `{prefix}/docs` (`/{name}/docs` by default, Swagger UI on
    assets the app serves itself: `dapr_helpers.docs`), with problem
    details and, unless `probes` is off (the app answers them itself), `/healthz` and `/readyz`.

    `lifespan` runs inside the one that closes `app.state.dapr_client` on shutdown, and
    `app.state.shutdown` (`dapr_helpers.shutdown.Shutdown`) is set once the process is told to stop.
    """
    prefix = prefix if prefix is not None else f"/{name}"
    shutdown = Shutdown()  # app.state.shutdown: long waits watch it
    app = FastAPI(
        title=name,
        description=description,
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN: add_swagger_ui's does not
        openapi_url=f"{prefix}/openapi.json",
        redoc_url=None,
        lifespan=_closing_dapr_client(watching(shutdown, lifespan)),
    )
    add_swagger_ui(app, prefix, openapi_url=f"{prefix}/openapi.json")
    problems(app)
    install_metrics(app)  # GET /metrics, for Prometheus
    instrument(app, name)  # server spans, when OTEL_* configures an exporter
    refuse_while_stopping(app, shutdown)  # last, so outermost: nothing else runs once stopping
    if probes:
        _add_probes(app)
    return app


def _add_probes(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        """Kubernetes' readiness probe: a participant holds no connection it could lose."""
        return {"status": "ready"}


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


def serve_commands(
    app: FastAPI, pubsub: str, topic: str, parse: Callable[[Any], C], public_prefix: str
) -> None:
    """Take commands for `app.state.commands` by invocation and from `topic`."""
    answer_invocations(app, parse)
    subscribe_commands(app, pubsub, topic, parse)
    hide_internal_routes(app, public_prefix)


def answer_invocations(app: FastAPI, parse: Callable[[Any], C]) -> None:
    """`POST /{COMMANDS_METHOD}`: the command's `Reply` in the response.

    A body that is not one of the participant's commands is a 400 or 422 problem, and
    changes nothing; a failure to carry it out is a 5xx, and the caller asks again.
    """
    log = logging.getLogger(f"{app.title}.commands")

    @app.post(f"/{COMMANDS_METHOD}", response_model=Reply)
    async def on_invoked_command(request: Request) -> Any:
        try:
            command = parse(json.loads(await request.body()))
        except ValueError as err:  # ValidationError is one
            count_malformed(app.title)
            log.warning("refusing a malformed command: %s", err)
            if isinstance(err, ValidationError):
                return problem_response(422, "invalid_command", _first_error(err))
            return problem_response(400, "invalid_json", "the body is not JSON")
        commands: CommandHandler = request.app.state.commands
        order_id = getattr(command, "order_id", None)
        trace.get_current_span().set_attribute("order.id", order_id)  # found by order, as a message is
        with bind_order(order_id):
            return await commands.answer(command)


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"{problem_field(dict(first))}: {first['msg']}"


def subscribe_commands(app: FastAPI, pubsub: str, topic: str, parse: Callable[[Any], C]) -> None:
    """Consume `topic` with `app.state.commands`; what never parses goes to `{topic}-dead`."""
    log = logging.getLogger(f"{app.title}.commands")

    @DaprApp(app).subscribe(pubsub=pubsub, topic=topic, dead_letter_topic=f"{topic}-dead")
    async def on_command(request: Request) -> dict[str, Any]:
        try:
            envelope = json.loads(await request.body())
        except ValueError:
            envelope = None  # not JSON: dropped as malformed
        commands: CommandHandler = request.app.state.commands
        data = event_data(envelope)
        fields = data if isinstance(data, dict) else {}
        action, order_id = fields.get("action"), fields.get("order_id")
        attributes: dict[str, str | int | bool] = {"messaging.destination.name": topic}
        if isinstance(order_id, int):
            attributes["order.id"] = order_id
        with message_span(f"{topic} {action or 'unknown'}", envelope, attributes):
            reply = await handle_cloud_event(envelope, parse, commands.handle, log)
        if reply.status is DaprStatus.DROP:  # only what never parses is dropped
            count_malformed(app.title)
        return reply.model_dump()


def hide_internal_routes(app: FastAPI, public_prefix: str) -> None:
    """Keep the sidecar's routes (any outside `public_prefix`) out of the public API document.

    Call it after the last route is added.
    """
    for route in app.routes:
        if isinstance(route, APIRoute) and not route.path.startswith(public_prefix):
            route.include_in_schema = False
