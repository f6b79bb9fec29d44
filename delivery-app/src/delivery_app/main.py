"""The app factory: `uvicorn --factory delivery_app.main:create_app`. Nothing connects at import."""

from dapr_helpers.app_token import require_app_token
from dapr_helpers.pubsub import Publisher
from dapr_helpers.saga.contract import DELIVERY
from dapr_helpers.service import serve_commands, service_app, with_dapr
from dapr_helpers.state import JsonStore
from fastapi import FastAPI

from delivery_app.adapters.repository import DeliveryRepository
from delivery_app.api.errors import install_delivery_errors
from delivery_app.api.routes import router
from delivery_app.config import Settings
from delivery_app.service.commands import CommandService
from delivery_app.service.couriers import CourierService


def create_app(settings: Settings | None = None) -> FastAPI:
    """The real app: Dapr state and pub/sub through a sidecar it connects to on first use."""
    app = with_dapr("delivery", settings or Settings(), build_app)
    require_app_token(app, router.prefix)  # with APP_API_TOKEN set, internal routes answer only the sidecar
    return app


def build_app(settings: Settings, store: JsonStore, publisher: Publisher) -> FastAPI:
    """The app around any store and publisher (tests pass in-memory fakes)."""
    app = service_app("delivery", "Couriers, one-hour slots and the saga's reserve/release steps.")
    repo = DeliveryRepository(store)
    app.state.couriers = CourierService(repo, settings.couriers)
    app.state.commands = CommandService(repo, app.state.couriers, publisher, settings.replies_topic)
    install_delivery_errors(app)
    app.include_router(router)
    serve_commands(app, settings.pubsub_name, settings.commands_topic, DELIVERY.parse, router.prefix)
    return app
