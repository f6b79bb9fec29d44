"""In-memory fakes of the app's ports, for tests without a sidecar (see saga_testkit.dapr)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from dapr_helpers.client import DaprHttpError
from order_app.adapters.directory import DirectoryUnavailable
from order_app.adapters.idempotency import IdempotencyKeys
from order_app.adapters.repository import OrderRepository
from order_app.config import Settings
from order_app.domain import OrderRequest
from order_app.service.orders import OrderService
from order_app.workflow.messages import Answer, Command, SagaInput, instance_id

from saga_testkit.dapr import InMemoryStateStore


@dataclass
class FakeDirectory:
    accounts: set[str] = field(default_factory=lambda: {"Edmond90", "ann"})
    products: set[int] = field(default_factory=lambda: {1, 2})
    down: bool = False

    async def account_exists(self, login: str) -> bool:
        if self.down:
            raise DirectoryUnavailable("billing is unreachable")
        return login in self.accounts

    async def product_exists(self, product_id: int) -> bool:
        return product_id in self.products


@dataclass
class AnsweringParticipants:
    """Answers every request ok, or with no reply for a participant in `silent` (as if its
    deadline passed); `asked` keeps (participant, command body, deadline) in order."""

    silent: tuple[str, ...] = ()
    asked: list[tuple[str, dict[str, Any], timedelta]] = field(default_factory=list)

    async def ask(self, command: Command, within: timedelta) -> Answer:
        self.asked.append((command.participant, command.body, within))
        if command.participant in self.silent:
            return Answer(error=f"{command.participant} did not answer in {within}")
        action = command.body["action"]
        reply = {"order_id": command.body["order_id"], "participant": command.participant, "action": action}
        return Answer.model_validate({"reply": reply | {"ok": True}})


@dataclass
class FakeSagas:
    """`lost_instances` holds instance ids whose state the engine lost: they exist, and refuse everything."""

    started: list[SagaInput] = field(default_factory=list)
    events: list[tuple[int, str, Any]] = field(default_factory=list)
    finished: set[int] = field(default_factory=set)
    start_fails: bool = False
    engine_down: bool = False
    lost_instances: set[str] = field(default_factory=set)

    async def start(self, saga: SagaInput) -> None:
        if self.start_fails:
            raise ConnectionError("no sidecar")
        if saga.instance_id in self.lost_instances:
            raise self._lost(saga.instance_id)
        if any(s.instance_id == saga.instance_id for s in self.started):
            message = f"an active workflow with ID '{saga.instance_id}' already exists"
            raise DaprHttpError(500, "ERR_START_WORKFLOW", message)
        self.started.append(saga)

    async def exists(self, order_id: int, generation: int = 0) -> bool:
        if self.engine_down:
            raise ConnectionError("no sidecar")
        wanted = instance_id(order_id, generation)
        return wanted in self.lost_instances or any(s.instance_id == wanted for s in self.started)

    async def raise_event(self, order_id: int, name: str, data: Any, generation: int = 0) -> None:
        """As the engine does: refused when unreachable or unknown, dropped once finished."""
        if self.engine_down:
            raise ConnectionError("no sidecar")
        if (wanted := instance_id(order_id, generation)) in self.lost_instances:
            raise self._lost(wanted)
        if not await self.exists(order_id, generation):
            raise LookupError(f"no such instance: {instance_id(order_id, generation)}")
        if order_id not in self.finished:
            self.events.append((order_id, name, data))

    async def lost(self, order_id: int, generation: int = 0) -> bool:
        if self.engine_down:
            raise ConnectionError("no sidecar")
        return instance_id(order_id, generation) in self.lost_instances

    @staticmethod
    def _lost(instance: str) -> DaprHttpError:
        """daprd 1.18.2's words for it."""
        return DaprHttpError(
            500,
            "ERR_RAISE_EVENT_WORKFLOW",
            f"workflow '{instance}': history key 'history-000003' declared in metadata (historyLength=9) "
            "but missing from state store (transient store read failure or partial save?)",
        )


NOW = datetime(2030, 1, 1, tzinfo=UTC)
REQUEST = OrderRequest(
    login="ann",
    email="a@b.cd",
    product_id=1,
    quantity=1,
    amount=Decimal(5),
    dtime=datetime(2030, 2, 1, tzinfo=UTC),
)


def a_service() -> tuple[OrderService, FakeSagas]:
    """An order service on the in-memory store and fakes, its clock stopped at `NOW`."""
    store, sagas = InMemoryStateStore(), FakeSagas()
    service = OrderService(
        OrderRepository(store), IdempotencyKeys(store), FakeDirectory(), sagas, Settings(), clock=lambda: NOW
    )
    return service, sagas
