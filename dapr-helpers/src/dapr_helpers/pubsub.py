"""Publishing JSON events and answering Dapr's subscription deliveries."""

import json
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from dapr_helpers.logging import bind_order

T = TypeVar("T")


async def publish_json(client: Any, pubsub: str, topic: str, data: BaseModel | dict[str, Any]) -> None:
    """Publish `data` as JSON so subscribers get it parsed as the CloudEvent's `data`."""
    body = data.model_dump_json() if isinstance(data, BaseModel) else json.dumps(data)
    await client.publish_event(
        pubsub_name=pubsub, topic_name=topic, data=body, data_content_type="application/json"
    )


class Publisher(Protocol):
    async def publish(self, topic: str, data: BaseModel | dict[str, Any]) -> None: ...


class DaprPublisher:
    """A `Publisher` bound to one pub/sub component of a (lazy) Dapr client."""

    def __init__(self, client: Any, pubsub: str) -> None:
        self.client = client
        self.pubsub = pubsub

    async def publish(self, topic: str, data: BaseModel | dict[str, Any]) -> None:
        await publish_json(self.client, self.pubsub, topic, data)


class DaprStatus(StrEnum):
    SUCCESS = "SUCCESS"
    RETRY = "RETRY"  # redeliver later
    DROP = "DROP"  # never deliverable: goes to the dead-letter topic


class DaprReply(BaseModel):
    """The body a subscription handler returns to the sidecar."""

    status: DaprStatus

    @classmethod
    def success(cls) -> "DaprReply":
        return cls(status=DaprStatus.SUCCESS)

    @classmethod
    def retry(cls) -> "DaprReply":
        return cls(status=DaprStatus.RETRY)

    @classmethod
    def drop(cls) -> "DaprReply":
        return cls(status=DaprStatus.DROP)


def event_data(envelope: Any) -> Any:
    """The `data` of a CloudEvent; JSON text is parsed (a publisher that forgot the content type)."""
    if not isinstance(envelope, dict):
        return None
    data = envelope.get("data")
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


async def handle_cloud_event(
    envelope: Any,
    parse: Callable[[Any], T],
    handle: Callable[[T], Awaitable[object]],
    logger: logging.Logger,
) -> DaprReply:
    """The delivery rules every subscription follows.

    A message `parse` rejects can never succeed: DROP (it goes to the
    dead-letter topic). Anything `handle` raises is taken as transient: RETRY
    (the handler must be idempotent, as Dapr delivers at least once).
    """
    data = event_data(envelope)
    try:
        message = parse(data)
    except (ValidationError, ValueError, TypeError) as err:
        logger.warning("dropping malformed message %r: %s", data, err)
        return DaprReply.drop()
    order_id = getattr(message, "order_id", None)
    with bind_order(order_id):
        try:
            await handle(message)
        except Exception:
            logger.exception("handling failed; asking for redelivery")
            return DaprReply.retry()
    return DaprReply.success()
