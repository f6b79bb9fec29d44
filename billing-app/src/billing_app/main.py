"""The app factory: `uvicorn --factory billing_app.main:create_app`. Nothing connects at import."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr_helpers.client import LazyDaprClient
from dapr_helpers.logging import configure_logging
from dapr_helpers.problems import install_problem_handlers
from dapr_helpers.pubsub import DaprPublisher, Publisher
from dapr_helpers.state import StateStore
from fastapi import FastAPI

from billing_app.adapters.repository import BillingRepository, Store
from billing_app.api.errors import install_billing_errors
from billing_app.api.routes import router
from billing_app.api.subscriptions import subscribe_commands
from billing_app.config import Settings
from billing_app.service.accounts import AccountService
from billing_app.service.commands import CommandService


def create_app(settings: Settings | None = None) -> FastAPI:
    """The real app: Dapr state and pub/sub through a sidecar it connects to on first use."""
    settings = settings or Settings()
    configure_logging("billing", settings.log_level)
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
        title="billing",
        description="Accounts and the saga's charge/refund steps.",
        docs_url="/billing/docs",
        openapi_url="/billing/openapi.json",
        redoc_url=None,
        lifespan=_lifespan,
    )
    repo = BillingRepository(store)
    app.state.accounts = AccountService(repo)
    app.state.commands = CommandService(repo, publisher, settings.replies_topic)
    install_problem_handlers(app)
    install_billing_errors(app)
    app.include_router(router)
    subscribe_commands(app, settings)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
