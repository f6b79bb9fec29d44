"""The console's routes: the landing page `/`, the page `/console`, its assets and JSON API.

`/console/api/...` is what the page reads; it is not part of the order API,
so it stays out of the public OpenAPI document, as do the pages.
"""

import json
import logging
from importlib import resources
from typing import Annotated, Any

from dapr_helpers.client import DaprHttp, DaprHttpError
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from order_app.adapters.dead_letters import DeadLetterLog
from order_app.adapters.repository import OrderRepository
from order_app.adapters.sagas import state_lost
from order_app.console.projection import ConsoleView
from order_app.console.stream import Shutdown, console_events
from order_app.console.views import summary, timeline
from order_app.domain import OrderStatus
from order_app.service.recovery import MAX_GENERATIONS
from order_app.workflow.messages import instance_id

PREFIX = "/console"
# What the gateway and the ingress route to the order app besides /orders (`=/`: `/` alone).
PUBLIC_PATHS = (PREFIX, "=/")
log = logging.getLogger(__name__)
STATIC = resources.files("order_app.console") / "static"
# The only files served, with their types: nothing else under static/ is reachable.
ASSETS = {"console.css": "text/css", "console.js": "text/javascript"}
NO_CACHE = {"Cache-Control": "no-cache"}  # always revalidated: a new release shows at once

router = APIRouter(include_in_schema=False)


def install_console(
    app: FastAPI, orders: OrderRepository, dead_letters: DeadLetterLog, dapr: DaprHttp
) -> None:
    """The console's read model on `app.state.console` and its routes; the stream ends with the
    app's own `app.state.shutdown` (dapr_helpers.service)."""
    app.state.console = ConsoleView(orders, dead_letters)
    app.state.console_dapr = dapr
    app.include_router(router)


def _view(request: Request) -> ConsoleView:
    view: ConsoleView = request.app.state.console
    return view


def _page(name: str) -> FileResponse:
    path = STATIC / name
    return FileResponse(str(path), media_type="text/html; charset=utf-8", headers=NO_CACHE)


@router.get("/")
async def landing() -> FileResponse:
    """Links to the console, each app's API docs, and health."""
    return _page("landing.html")


@router.get(PREFIX)
async def console_page() -> FileResponse:
    return _page("console.html")


@router.get(f"{PREFIX}/assets/{{name}}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, f"no asset {name}")
    return FileResponse(str(STATIC / name), media_type=ASSETS[name], headers=NO_CACHE)


@router.get(f"{PREFIX}/api/orders")
async def console_orders(
    request: Request,
    status: Annotated[OrderStatus | None, Query()] = None,
    login: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The newest orders (of the newest 500, the console's window), by status and login; the totals."""
    view = _view(request)
    await view.refresh(max_age=0.5)
    found = view.recent(status.value if status else None, login, limit)
    return {"orders": [summary(o) for o in found], "totals": view.totals.as_json()}


@router.get(f"{PREFIX}/api/totals")
async def console_totals(request: Request) -> dict[str, Any]:
    view = _view(request)
    await view.refresh(max_age=0.5)
    return view.totals.as_json()


@router.get(f"{PREFIX}/api/orders/{{order_id}}")
async def console_order(order_id: int, request: Request) -> dict[str, Any]:
    """The order's saga as a timeline, from its record (a final one from the view, which cannot be stale)."""
    view = _view(request)
    order = view.cached(order_id) or await view.orders.get(order_id)
    if order is None:
        raise HTTPException(404, f"order {order_id} does not exist")
    return timeline(order, f"{PREFIX}/api/orders/{order_id}/workflow")


@router.get(f"{PREFIX}/api/orders/{{order_id}}/workflow")
async def console_workflow(order_id: int, request: Request) -> JSONResponse:
    """The order's Dapr workflow as its sidecar reports it (not reachable from outside otherwise).

    A saga whose state daprd lost was replaced under the next instance id
    (service/recovery.py): the newest generation is shown. 404 once the engine
    purged the finished instance: the order record stays the truth.
    """
    dapr: DaprHttp = request.app.state.console_dapr
    for generation in range(MAX_GENERATIONS):
        iid = instance_id(order_id, generation)
        try:
            _, body, _ = await dapr.request("GET", f"/workflows/dapr/{iid}")
        except DaprHttpError as err:
            if state_lost(err):
                continue
            if err.status != 404:  # ERR_INSTANCE_ID_NOT_FOUND
                raise HTTPException(502, f"the workflow engine answered {err}") from None
            if generation == 0:
                raise HTTPException(404, f"no workflow instance {iid}") from None
            lost = instance_id(order_id, generation - 1)
            raise HTTPException(502, f"the engine lost the state of {lost}; no replacement yet") from None
        return JSONResponse(content=json.loads(body) if body else None)
    raise HTTPException(502, f"the engine lost the state of {MAX_GENERATIONS} sagas of order {order_id}")


@router.get(f"{PREFIX}/api/health")
async def console_health(request: Request) -> JSONResponse:
    """The order app's readiness (its saga worker) and its sidecar's health, for the landing page."""
    worker = request.app.state.worker
    ready = worker.ready if worker is not None else True
    dapr: DaprHttp = request.app.state.console_dapr
    try:
        await dapr.request("GET", "/healthz")
        sidecar = "ok"
    except Exception as err:  # any failure is the answer here
        sidecar = f"unavailable: {err}"
    healthy = ready and sidecar == "ok"
    body = {
        "status": "ok" if healthy else "degraded",
        "order_app": {"workflow_worker": ready},
        "sidecar": sidecar,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get(f"{PREFIX}/api/events")
async def console_stream(request: Request) -> StreamingResponse:
    """Server-sent events; see `order_app.console.stream`."""
    shutdown: Shutdown = request.app.state.shutdown
    events = console_events(
        _view(request), shutdown.event, on_error=lambda err: log.warning("console refresh failed: %s", err)
    )
    headers = {**NO_CACHE, "X-Accel-Buffering": "no"}  # ingress-nginx: pass events on at once
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)
