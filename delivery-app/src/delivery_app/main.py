"""The app factory: `uvicorn --factory delivery_app.main:create_app`. Nothing connects at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr_helpers.client import LazyDaprClient
from dapr_helpers.logging import configure_logging
from dapr_helpers.problems import install_problem_handlers
from dapr_helpers.pubsub import DaprPublisher, Publisher
from dapr_helpers.state import StateStore
from fastapi import FastAPI

from delivery_app.adapters.repository import DeliveryRepository, Store
from delivery_app.api.errors import install_delivery_errors
from delivery_app.api.routes import router
from delivery_app.api.subscriptions import subscribe_commands
from delivery_app.config import Settings
from delivery_app.service.commands import CommandService
from delivery_app.service.couriers import CourierService


def create_app(settings: Settings | None = None) -> FastAPI:
    """The real app: Dapr state and pub/sub through a sidecar it connects to on first use."""
    settings = settings or Settings()
    configure_logging("delivery", settings.log_level)
    client = LazyDaprClient()
    app = build_app(
        settings, StateStore(client, settings.state_store), DaprPublisher(client, settings.pubsub_name)
    )
    app.state.dapr_client = client
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    client = getattr(app.state, "dapr_client", None)
    if client is not None:
        await client.close()


def build_app(settings: Settings, store: Store, publisher: Publisher) -> FastAPI:
    """The app around any store and publisher (tests pass in-memory fakes)."""
    app = FastAPI(
        title="delivery",
        description="Couriers, one-hour slots and the saga's reserve/release steps.",
        docs_url="/delivery/docs",
        openapi_url="/delivery/openapi.json",
        redoc_url=None,
        lifespan=_lifespan,
    )
    repo = DeliveryRepository(store)
    app.state.couriers = CourierService(repo, settings.couriers)
    app.state.commands = CommandService(repo, app.state.couriers, publisher, settings.replies_topic)
    install_problem_handlers(app)
    install_delivery_errors(app)
    app.include_router(router)
    subscribe_commands(app, settings)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
