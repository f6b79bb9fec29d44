"""Billing settings, from the environment (`APP_PORT`, `STATE_STORE`, `COMMANDS_TOPIC`, ...)."""

from dapr_helpers.saga.contract import BILLING, REPLIES_TOPIC
from dapr_helpers.settings import ServiceSettings


class Settings(ServiceSettings):
    app_port: int = 8002
    state_store: str = "billing-store"
    commands_topic: str = BILLING.topic  # "billing-commands", as docs/messaging.md names it
    replies_topic: str = REPLIES_TOPIC
