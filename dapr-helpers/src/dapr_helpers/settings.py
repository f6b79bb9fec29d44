"""The settings every service shares; each app subclasses and sets its defaults."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read from the environment (`APP_PORT`, `PUBSUB_NAME`, `STATE_STORE`, `LOG_LEVEL`)."""

    model_config = SettingsConfigDict(extra="ignore")

    app_port: int = 8000
    pubsub_name: str = "pubsub"
    state_store: str = "statestore"
    log_level: str = "INFO"
