"""Publishing JSON events and answering Dapr's subscription deliveries."""

import json
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from dapr_helpers.client import DaprRequests
from dapr_helpers.logging import bind_order

T = TypeVar("T")


class Publisher(Protocol):
    async def publish(self, topic: str, data: BaseModel | dict[str, Any]) -> None: ...


class DaprPublisher:
    """A `Publisher` on one pub/sub component, through the sidecar's HTTP API.

    The data goes as JSON, so subscribers get it parsed as the CloudEvent's `data`.
    """

    def __init__(self, dapr: DaprRequests, pubsub: str) -> None:
        self.dapr = dapr
        self.path = f"/publish/{quote(pubsub, safe='')}"

    async def publish(self, topic: str, data: BaseModel | dict[str, Any]) -> None:
        body = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        await self.dapr.request("POST", f"{self.path}/{quote(topic, safe='')}", body)


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
