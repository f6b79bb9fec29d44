"""The `order-replies` subscription: each participant reply becomes a workflow event.

Dapr reads the handler's answer: SUCCESS acknowledges, RETRY redelivers later,
DROP sends the message to `order-replies-dead`, which the app subscribes to as well:
it counts and logs what arrives there (`adapters/dead_letters.py` says why that is safe).
"""

import logging
from typing import Any

from dapr.ext.fastapi import DaprApp
from dapr_helpers.logging import bind_order
from dapr_helpers.pubsub import DaprReply, event_data
from dapr_helpers.saga.contract import Reply, event_name
from dapr_helpers.tracing import message_span
from fastapi import Body
from pydantic import ValidationError

from order_app.adapters.dead_letters import summary_of
from order_app.adapters.sagas import SagaGateway
from order_app.api.deps import DeadLettersDep, RecoveryDep, SagasDep
from order_app.config import Settings
from order_app.service.metrics import dead_letter

log = logging.getLogger(__name__)


def subscribe_replies(dapr_app: DaprApp, settings: Settings) -> None:
    @dapr_app.subscribe(
        pubsub=settings.pubsub_name,
        topic=settings.replies_topic,
        dead_letter_topic=f"{settings.replies_topic}-dead",
    )
    async def on_reply(
        sagas: SagasDep,
        recovery: RecoveryDep,
        envelope: Any = Body(None),  # noqa: B008
    ) -> DaprReply:
        try:
            reply = Reply.model_validate(event_data(envelope))
        except ValidationError as err:
            log.error("unreadable reply dropped: %s", err.errors(include_url=False))
            return DaprReply.drop()

        name = event_name(reply.participant, reply.action)
        span = message_span(f"{settings.replies_topic} {name}", envelope, {"order.id": reply.order_id})
        with bind_order(reply.order_id), span:
            try:
                # A finished saga accepts the event and never reads it (as Dapr does):
                # no status check first, which would cost a round trip on every reply.
                # A saga whose engine state was lost is replaced here (service/recovery.py).
                await recovery.raise_event(reply.order_id, name, reply.model_dump(mode="json"))
            except Exception as err:
                if await _unknown(sagas, reply.order_id):
                    log.warning("reply %s for an unknown saga acknowledged and ignored", name)
                    return DaprReply.success()
                log.warning("reply %s not delivered to the saga yet: %s", name, err)
                return DaprReply.retry()  # the workflow engine is unreachable: try again later
            log.debug("reply %s (ok=%s) raised on the saga", name, reply.ok)
            return DaprReply.success()


def subscribe_dead_replies(dapr_app: DaprApp, settings: Settings) -> None:
    """Counted and logged as an error: an alert for people, since no saga waits for them."""

    @dapr_app.subscribe(pubsub=settings.pubsub_name, topic=f"{settings.replies_topic}-dead")
    async def on_dead_reply(dead: DeadLettersDep, envelope: Any = Body(None)) -> DaprReply:  # noqa: B008
        event_id = str(envelope.get("id", "")) if isinstance(envelope, dict) else ""
        data = event_data(envelope)
        if await dead.add(event_id, data):  # a redelivered dead letter is neither counted nor logged again
            dead_letter(data)
            log.error(
                "a reply was dead-lettered after Dapr's delivery retries: %s; its saga compensates "
                "on its own timeout (GET /orders/dead-letters lists the latest)",
                summary_of(data),
            )
        return DaprReply.success()


async def _unknown(sagas: SagaGateway, order_id: int) -> bool:
    """True only when the engine says there is no such saga; False when it cannot say."""
    try:
        return not await sagas.exists(order_id)
    except Exception:
        return False
