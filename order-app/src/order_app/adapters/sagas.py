"""Starting, inspecting and signalling order sagas through the sidecar.

Start, get and raise-event go over Dapr's HTTP workflow API (`/v1.0/workflows/dapr/...`),
like state and pub/sub (see `dapr_helpers.client`): each saga raises three
events, and over HTTP a call costs a fraction of the CPU of the SDK's
`grpc.aio` client. Nothing waits on the engine: `?wait=` watches the order
record (`order_app.service.outcomes`).
"""

from typing import Any, Protocol

from dapr_helpers.client import DaprHttpError, DaprRequests

from order_app.workflow.messages import SAGA_WORKFLOW, SagaInput, instance_id

WORKFLOWS = "/workflows/dapr"  # `dapr`: the engine built into the sidecar


class SagaGateway(Protocol):
    async def start(self, saga: SagaInput) -> None: ...
    async def exists(self, order_id: int) -> bool: ...
    async def raise_event(self, order_id: int, name: str, data: Any) -> None: ...


class DaprSagaGateway:
    """Nothing connects at construction, so building it needs no sidecar."""

    def __init__(self, dapr: DaprRequests) -> None:
        self.dapr = dapr

    async def start(self, saga: SagaInput) -> None:
        """The body is the workflow's input as-is: the saga's JSON."""
        path = f"{WORKFLOWS}/{SAGA_WORKFLOW}/start?instanceID={instance_id(saga.order_id)}"
        await self.dapr.request("POST", path, saga.model_dump(mode="json"))

    async def exists(self, order_id: int) -> bool:
        try:
            await self.dapr.request("GET", f"{WORKFLOWS}/{instance_id(order_id)}")
        except DaprHttpError as err:
            if err.status == 404:  # ERR_INSTANCE_ID_NOT_FOUND
                return False
            raise
        return True

    async def raise_event(self, order_id: int, name: str, data: Any) -> None:
        """An unknown instance is an error (500); a finished one takes the event and ignores it."""
        await self.dapr.request("POST", f"{WORKFLOWS}/{instance_id(order_id)}/raiseEvent/{name}", data)
