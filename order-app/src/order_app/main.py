"""The app factory: `uvicorn --factory order_app.main:create_app --port 8001`.

Nothing connects at import or construction time. The lifespan starts the saga
worker in the background (it connects when the sidecar is there, and is
replaced if its stream dies) and stops it on shutdown.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from dapr.ext.fastapi import DaprApp
from dapr_helpers.app_token import require_app_token
from dapr_helpers.client import DaprHttp
from dapr_helpers.logging import configure_logging
from dapr_helpers.service import hide_internal_routes, service_app
from dapr_helpers.state import StateStore
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from order_app.adapters.dead_letters import DeadLetterLog
from order_app.adapters.directory import DaprDirectory, RememberingDirectory
from order_app.adapters.idempotency import IdempotencyKeys
from order_app.adapters.repository import OrderRepository
from order_app.adapters.sagas import DaprSagaGateway
from order_app.api.errors import install_order_errors
from order_app.api.replies import subscribe_dead_replies, subscribe_replies
from order_app.api.routes import router
from order_app.config import Settings
from order_app.console.routes import PUBLIC_PATHS as CONSOLE_PATHS
from order_app.console.routes import install_console
from order_app.service.orders import OrderService
from order_app.service.outcomes import OutcomeSignals
from order_app.service.recovery import SagaRecovery, StalledSagaSweep
from order_app.workflow.engine_watch import EngineWatch
from order_app.workflow.runtime import SagaWorker, build_runtime, configure_sdk_logs


def create_app(settings: Settings | None = None, service: OrderService | None = None) -> FastAPI:
    """`service` replaces the Dapr-backed one (tests); the saga worker then stays off."""
    settings = settings or Settings()
    configure_logging(settings.app_id, settings.log_level)
    configure_sdk_logs()
    client = DaprHttp()
    invoker: DaprHttp | None = None  # its own session: the invocations have a shorter timeout
    outcomes = OutcomeSignals()
    if service is None:
        store = StateStore(client, settings.state_store)
        invoker = DaprHttp(timeout=settings.invoke_timeout_seconds)
        service = OrderService(
            orders=OrderRepository(store),
            keys=IdempotencyKeys(store),
            directory=RememberingDirectory(
                DaprDirectory(invoker, settings.billing_app_id, settings.stock_app_id)
            ),
            sagas=DaprSagaGateway(client),
            settings=settings,
        )
        worker: SagaWorker | None = SagaWorker(
            lambda: build_runtime(settings, outcomes), settings.worker_check_seconds, EngineWatch(client)
        )
    else:
        worker = None

    recovery = SagaRecovery(service.orders, service.sagas, service.saga_input)
    quiet = timedelta(seconds=settings.recovery_quiet_seconds)
    sweep = StalledSagaSweep(recovery, service.orders, settings.recovery_sweep_seconds, quiet)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Then `service_app`'s lifespan closes `client`."""
        sweeping = None
        if worker is not None:
            worker.start()
            sweeping = asyncio.create_task(sweep.run(), name="stalled-saga-sweep")
        try:
            yield
        finally:
            if sweeping is not None:
                sweeping.cancel()
                await asyncio.gather(sweeping, return_exceptions=True)
            if worker is not None:
                await worker.stop()
            if invoker is not None:
                await invoker.close()

    app = service_app(
        "order",
        "Orders, each placed by a saga across stock, delivery and billing.",
        prefix=router.prefix,
        lifespan=lifespan,
        problems=install_order_errors,
        probes=False,  # its own, below: they tell whether the saga worker is connected
    )
    app.state.dapr_client = client
    app.state.service = service
    app.state.worker = worker
    app.state.outcomes = outcomes
    app.state.recovery = recovery
    app.state.dead_letters = DeadLetterLog(service.orders.store)
    app.include_router(router)
    install_console(app, service.orders, app.state.dead_letters, client)  # `/` and /console: read-only
    dapr_app = DaprApp(app)
    subscribe_replies(dapr_app, settings)
    subscribe_dead_replies(dapr_app, settings)
    hide_internal_routes(app, router.prefix)
    # with APP_API_TOKEN set, internal routes answer only the sidecar
    require_app_token(app, (router.prefix, *CONSOLE_PATHS))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """Live; `workflow_worker` tells whether the saga worker is connected to the sidecar."""
        connected = worker.ready if worker is not None else None
        return JSONResponse({"status": "ok", "workflow_worker": connected})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Ready to take orders: 503 while the saga worker is not connected to the sidecar,
        since a saga started then would wait for it. Kubernetes' readiness probe; liveness
        stays on /healthz, as a restart of the app would not reconnect it sooner."""
        connected = worker.ready if worker is not None else True
        return JSONResponse(
            {"status": "ready" if connected else "unready", "workflow_worker": connected},
            status_code=200 if connected else 503,
        )

    return app
