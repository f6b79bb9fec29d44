"""The app factory: `uvicorn --factory billing_app.main:create_app`. Nothing connects at import."""

from dapr_helpers.app_token import require_app_token
from dapr_helpers.pubsub import Publisher
from dapr_helpers.saga.contract import BILLING
from dapr_helpers.service import serve_commands, service_app, with_dapr
from dapr_helpers.state import JsonStore
from fastapi import FastAPI

from billing_app.adapters.repository import BillingRepository
from billing_app.api import directory
from billing_app.api.errors import install_billing_errors
from billing_app.api.routes import router
from billing_app.config import Settings
from billing_app.service.accounts import AccountService
from billing_app.service.commands import CommandService


def create_app(settings: Settings | None = None) -> FastAPI:
    """The real app: Dapr state and pub/sub through a sidecar it connects to on first use."""
    app = with_dapr("billing", settings or Settings(), build_app)
    require_app_token(app, router.prefix)  # with APP_API_TOKEN set, internal routes answer only the sidecar
    return app


def build_app(settings: Settings, store: JsonStore, publisher: Publisher) -> FastAPI:
    """The app around any store and publisher (tests pass in-memory fakes)."""
    app = service_app("billing", "Accounts and the saga's charge/refund steps.")
    repo = BillingRepository(store)
    app.state.accounts = AccountService(repo)
    app.state.commands = CommandService(repo, publisher, settings.replies_topic)
    install_billing_errors(app)
    app.include_router(router)
    app.include_router(directory.router)
    serve_commands(app, settings.pubsub_name, settings.commands_topic, BILLING.parse, router.prefix)
    return app
