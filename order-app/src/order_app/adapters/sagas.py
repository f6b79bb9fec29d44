"""Starting, awaiting and signalling order sagas through the Dapr workflow client."""

import contextlib
import logging
from typing import Any, Protocol

from dapr.ext.workflow.aio import DaprWorkflowClient

from order_app.workflow.messages import SagaInput, instance_id
from order_app.workflow.runtime import sdk_logger_options
from order_app.workflow.saga import order_saga

log = logging.getLogger(__name__)


class SagaGateway(Protocol):
    async def start(self, saga: SagaInput) -> None: ...
    async def exists(self, order_id: int) -> bool: ...
    async def wait(self, order_id: int, timeout_seconds: int) -> None: ...
    async def raise_event(self, order_id: int, name: str, data: Any) -> None: ...


class DaprSagaGateway:
    """The async workflow client; it connects lazily, so building it needs no sidecar."""

    def __init__(self) -> None:
        self._client: DaprWorkflowClient | None = None

    @property
    def client(self) -> DaprWorkflowClient:
        if self._client is None:
            self._client = DaprWorkflowClient(logger_options=sdk_logger_options())
        return self._client

    async def start(self, saga: SagaInput) -> None:
        await self.client.schedule_new_workflow(
            order_saga.__name__, input=saga, instance_id=instance_id(saga.order_id)
        )

    async def exists(self, order_id: int) -> bool:
        return await self.client.get_workflow_state(instance_id(order_id), fetch_payloads=False) is not None

    async def wait(self, order_id: int, timeout_seconds: int) -> None:
        """Return when the saga finished or the timeout passed, whichever is first."""
        with contextlib.suppress(TimeoutError):
            await self.client.wait_for_workflow_completion(
                instance_id(order_id), fetch_payloads=False, timeout_in_seconds=timeout_seconds
            )

    async def raise_event(self, order_id: int, name: str, data: Any) -> None:
        await self.client.raise_workflow_event(instance_id(order_id), name, data=data)
