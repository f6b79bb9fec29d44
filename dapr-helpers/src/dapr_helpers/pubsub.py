"""Publishing JSON events and answering Dapr's subscription deliveries."""

import json
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel


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
