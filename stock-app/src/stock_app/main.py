"""The app factory: `uvicorn --factory stock_app.main:create_app`. Nothing connects at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr_helpers.client import LazyDaprClient
from dapr_helpers.logging import configure_logging
from dapr_helpers.problems import install_problem_handlers
from dapr_helpers.pubsub import DaprPublisher, Publisher
from dapr_helpers.state import StateStore
from fastapi import FastAPI

from stock_app.adapters.repository import StockRepository, Store
from stock_app.api.errors import install_stock_errors
from stock_app.api.routes import router
from stock_app.api.subscriptions import subscribe_commands
from stock_app.config import Settings
from stock_app.service.commands import CommandService
from stock_app.service.products import ProductService


def create_app(settings: Settings | None = None) -> FastAPI:
    """The real app: Dapr state and pub/sub through a sidecar it connects to on first use."""
    settings = settings or Settings()
    configure_logging("stock", settings.log_level)
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
        title="stock",
        description="Products, available units and the saga's reserve/release steps.",
        docs_url="/stock/docs",
        openapi_url="/stock/openapi.json",
        redoc_url=None,
        lifespan=_lifespan,
    )
    repo = StockRepository(store)
    app.state.products = ProductService(repo)
    app.state.commands = CommandService(repo, publisher, settings.replies_topic)
    install_problem_handlers(app)
    install_stock_errors(app)
    app.include_router(router)
    subscribe_commands(app, settings)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
