"""Starting, inspecting, signalling and awaiting order sagas through the sidecar.

Start, get and raise-event go over Dapr's HTTP workflow API (`/v1.0/workflows/dapr/...`),
like state and pub/sub (see `dapr_helpers.client`): each saga raises three events,
and over HTTP a call costs the app and the sidecar about a quarter of the CPU of
the SDK's `grpc.aio` client. HTTP has no "wait for completion", so waiting stays
on the SDK's `DaprWorkflowClient`.
"""

import contextlib
import logging
from typing import Any, Protocol

from dapr.ext.workflow.aio import DaprWorkflowClient
from dapr_helpers.client import DaprHttp, DaprHttpError

from order_app.workflow.messages import SagaInput, instance_id
from order_app.workflow.runtime import sdk_logger_options
from order_app.workflow.saga import order_saga

log = logging.getLogger(__name__)

WORKFLOWS = "/workflows/dapr"  # `dapr`: the engine built into the sidecar


class SagaGateway(Protocol):
    async def start(self, saga: SagaInput) -> None: ...
    async def exists(self, order_id: int) -> bool: ...
    async def wait(self, order_id: int, timeout_seconds: int) -> None: ...
    async def raise_event(self, order_id: int, name: str, data: Any) -> None: ...


class DaprSagaGateway:
    """Nothing connects at construction, so building it needs no sidecar."""

    def __init__(self, dapr: DaprHttp) -> None:
        self.dapr = dapr
        self._client: DaprWorkflowClient | None = None

    @property
    def client(self) -> DaprWorkflowClient:
        if self._client is None:
            self._client = DaprWorkflowClient(logger_options=sdk_logger_options())
        return self._client

    async def start(self, saga: SagaInput) -> None:
        """The body is the workflow's input as-is: the saga's JSON."""
        path = f"{WORKFLOWS}/{order_saga.__name__}/start?instanceID={instance_id(saga.order_id)}"
        await self.dapr.request("POST", path, saga.model_dump(mode="json"))

    async def exists(self, order_id: int) -> bool:
        try:
            await self.dapr.request("GET", f"{WORKFLOWS}/{instance_id(order_id)}")
        except DaprHttpError as err:
            if err.status == 404:  # ERR_INSTANCE_ID_NOT_FOUND
                return False
            raise
        return True

    async def wait(self, order_id: int, timeout_seconds: int) -> None:
        """Return when the saga finished or the timeout passed, whichever is first."""
        with contextlib.suppress(TimeoutError):
            await self.client.wait_for_workflow_completion(
                instance_id(order_id), fetch_payloads=False, timeout_in_seconds=timeout_seconds
            )

    async def raise_event(self, order_id: int, name: str, data: Any) -> None:
        """An unknown instance is an error (500); a finished one takes the event and ignores it."""
        await self.dapr.request("POST", f"{WORKFLOWS}/{instance_id(order_id)}/raiseEvent/{name}", data)
