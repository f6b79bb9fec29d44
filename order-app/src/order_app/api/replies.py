"""The `order-replies` subscription: each participant reply becomes a workflow event.

Dapr reads the handler's answer: SUCCESS acknowledges, RETRY redelivers later,
DROP sends the message to `order-replies-dead`.
"""

import logging
from typing import Any

from dapr.ext.fastapi import DaprApp
from dapr_helpers.logging import bind_order
from dapr_helpers.pubsub import DaprReply, event_data
from fastapi import Body
from pydantic import ValidationError

from order_app.api.deps import SagasDep
from order_app.config import Settings
from order_app.workflow.messages import Reply, event_name

log = logging.getLogger(__name__)


def subscribe_replies(dapr_app: DaprApp, settings: Settings) -> None:
    @dapr_app.subscribe(
        pubsub=settings.pubsub_name,
        topic=settings.replies_topic,
        dead_letter_topic=f"{settings.replies_topic}-dead",
    )
    async def on_reply(sagas: SagasDep, envelope: Any = Body(None)) -> DaprReply:  # noqa: B008
        try:
            reply = Reply.model_validate(event_data(envelope))
        except ValidationError as err:
            log.error("unreadable reply dropped: %s", err.errors(include_url=False))
            return DaprReply.drop()

        name = event_name(reply.participant, reply.action)
        with bind_order(reply.order_id):
            try:
                if not await sagas.is_running(reply.order_id):
                    log.info("reply %s for a finished or unknown saga acknowledged", name)
                    return DaprReply.success()
                await sagas.raise_event(reply.order_id, name, reply.model_dump(mode="json"))
            except Exception as err:  # the workflow engine is unreachable: try again later
                log.warning("reply %s not delivered to the saga yet: %s", name, err)
                return DaprReply.retry()
            log.info("reply %s (ok=%s) raised on the saga", name, reply.ok)
            return DaprReply.success()
