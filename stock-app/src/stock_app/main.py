"""The app factory: `uvicorn --factory stock_app.main:create_app`. Nothing connects at import."""

from dapr_helpers.app_token import require_app_token
from dapr_helpers.pubsub import Publisher
from dapr_helpers.saga.contract import STOCK
from dapr_helpers.service import serve_commands, service_app, with_dapr
from dapr_helpers.state import JsonStore
from fastapi import FastAPI

from stock_app.adapters.repository import StockRepository
from stock_app.api import directory
from stock_app.api.errors import install_stock_errors
from stock_app.api.routes import router
from stock_app.config import Settings
from stock_app.service.commands import CommandService
from stock_app.service.products import ProductService


def create_app(settings: Settings | None = None) -> FastAPI:
    """The real app: Dapr state and pub/sub through a sidecar it connects to on first use."""
    app = with_dapr("stock", settings or Settings(), build_app)
    require_app_token(app, router.prefix)  # with APP_API_TOKEN set, internal routes answer only the sidecar
    return app


def build_app(settings: Settings, store: JsonStore, publisher: Publisher) -> FastAPI:
    """The app around any store and publisher (tests pass in-memory fakes)."""
    app = service_app("stock", "Products, available units and the saga's reserve/release steps.")
    repo = StockRepository(store)
    app.state.products = ProductService(repo)
    app.state.commands = CommandService(repo, publisher, settings.replies_topic)
    install_stock_errors(app)
    app.include_router(router)
    app.include_router(directory.router)
    serve_commands(app, settings.pubsub_name, settings.commands_topic, STOCK.parse, router.prefix)
    return app
