"""Delivery settings, from the environment (`APP_PORT`, `STATE_STORE`, `COURIERS`, ...)."""

from dapr_helpers.saga.contract import DELIVERY, REPLIES_TOPIC
from dapr_helpers.settings import ServiceSettings


class Settings(ServiceSettings):
    app_port: int = 8004
    state_store: str = "delivery-store"
    commands_topic: str = DELIVERY.topic  # "delivery-commands", as docs/messaging.md names it
    replies_topic: str = REPLIES_TOPIC
    # The default roster, as JSON: COURIERS='["Ann", "Bob"]'. One courier by default, so a
    # second order for the same slot finds none (the assignment's fourth scenario).
    couriers: list[str] = ["Courier 1"]
