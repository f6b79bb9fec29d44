"""Stock settings, from the environment (`APP_PORT`, `STATE_STORE`, `COMMANDS_TOPIC`, ...)."""

from dapr_helpers.saga.contract import REPLIES_TOPIC, STOCK
from dapr_helpers.settings import ServiceSettings


class Settings(ServiceSettings):
    app_port: int = 8003
    state_store: str = "stock-store"
    commands_topic: str = STOCK.topic  # "stock-commands", as docs/messaging.md names it
    replies_topic: str = REPLIES_TOPIC
