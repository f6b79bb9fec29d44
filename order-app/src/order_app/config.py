"""One settings object, read from the environment once, in the app factory."""

from dapr_helpers.saga.contract import REPLIES_TOPIC
from dapr_helpers.settings import ServiceSettings
from pydantic import Field, PositiveFloat, PositiveInt


class Settings(ServiceSettings):
    """Env vars: APP_PORT, STATE_STORE, PUBSUB_NAME, LOG_LEVEL, and the saga's timing below."""

    app_id: str = "order"
    app_port: int = 8001
    state_store: str = "order-store"
    pubsub_name: str = "pubsub"
    replies_topic: str = REPLIES_TOPIC
    billing_app_id: str = "billing"
    stock_app_id: str = "stock"
    delivery_app_id: str = "delivery"

    # How long a forward step (reserve, charge) may stay unanswered before it counts as
    # failed: the deadline of its service invocation, retries included.
    step_timeout_seconds: PositiveFloat = 30.0
    # The first wait for a compensation's ack; each re-send doubles it, up to the cap.
    compensation_timeout_seconds: PositiveFloat = 10.0
    compensation_max_backoff_seconds: PositiveFloat = 300.0
    # After this many unanswered compensation rounds the saga continues as new,
    # so a participant that stays away never grows a workflow's history for good.
    compensation_rounds_per_run: PositiveInt = 10

    # The synchronous account/product checks give up after this long (503).
    invoke_timeout_seconds: PositiveFloat = 10.0
    # GET /orders/{id}?wait=N never holds a request longer than this.
    max_wait_seconds: PositiveInt = 30
    # A waiting request is woken when this process records the outcome; it also
    # re-reads the record this often, for outcomes recorded by another replica.
    wait_poll_seconds: PositiveFloat = 1.0
    # How often pending orders are checked for a saga whose workflow state the engine
    # lost (service/recovery.py), and how long one must be quiet before it is checked.
    recovery_sweep_seconds: PositiveFloat = 60.0
    recovery_quiet_seconds: PositiveFloat = 60.0
    # How often the app checks that the workflow worker's stream is still alive.
    worker_check_seconds: PositiveFloat = Field(default=5.0)
