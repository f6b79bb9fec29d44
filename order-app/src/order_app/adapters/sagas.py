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
    """`generation` picks the instance: 0 is the order's own, more replace a lost one."""

    async def start(self, saga: SagaInput) -> None: ...
    async def exists(self, order_id: int, generation: int = 0) -> bool: ...
    async def raise_event(self, order_id: int, name: str, data: Any, generation: int = 0) -> None: ...
    async def lost(self, order_id: int, generation: int = 0) -> bool: ...


def state_lost(err: Exception) -> bool:
    """daprd cannot load the instance: its stored metadata names an inbox or history
    entry the store does not hold. daprd 1.18.2 can leave a workflow so (docs/outages.md);
    every later load, event, terminate or purge of it fails the same way."""
    return (
        isinstance(err, DaprHttpError)
        and "declared in metadata" in err.message
        and "missing from state store" in err.message
    )


class DaprSagaGateway:
    """Nothing connects at construction, so building it needs no sidecar."""

    def __init__(self, dapr: DaprRequests) -> None:
        self.dapr = dapr

    async def start(self, saga: SagaInput) -> None:
        """The body is the workflow's input as-is: the saga's JSON."""
        path = f"{WORKFLOWS}/{SAGA_WORKFLOW}/start?instanceID={saga.instance_id}"
        await self.dapr.request("POST", path, saga.model_dump(mode="json"))

    async def exists(self, order_id: int, generation: int = 0) -> bool:
        """True for an instance whose state was lost too: it exists, and blocks its id."""
        try:
            await self.dapr.request("GET", f"{WORKFLOWS}/{instance_id(order_id, generation)}")
        except DaprHttpError as err:
            if err.status == 404:  # ERR_INSTANCE_ID_NOT_FOUND
                return False
            if state_lost(err):
                return True
            raise
        return True

    async def lost(self, order_id: int, generation: int = 0) -> bool:
        """Whether daprd can no longer load the instance (`state_lost`)."""
        try:
            await self.dapr.request("GET", f"{WORKFLOWS}/{instance_id(order_id, generation)}")
        except DaprHttpError as err:
            if state_lost(err):
                return True
            if err.status == 404:
                return False
            raise
        return False

    async def raise_event(self, order_id: int, name: str, data: Any, generation: int = 0) -> None:
        """An unknown instance is an error (500); a finished one takes the event and ignores it."""
        path = f"{WORKFLOWS}/{instance_id(order_id, generation)}/raiseEvent/{name}"
        await self.dapr.request("POST", path, data)
