"""In-memory fakes of the app's ports, for tests without a sidecar (see saga_testkit.dapr)."""

from dataclasses import dataclass, field
from typing import Any

from order_app.adapters.directory import DirectoryUnavailable
from order_app.workflow.messages import SagaInput


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
class FakeSagas:
    started: list[SagaInput] = field(default_factory=list)
    events: list[tuple[int, str, Any]] = field(default_factory=list)
    finished: set[int] = field(default_factory=set)
    start_fails: bool = False
    engine_down: bool = False

    async def start(self, saga: SagaInput) -> None:
        if self.start_fails:
            raise ConnectionError("no sidecar")
        self.started.append(saga)

    async def exists(self, order_id: int) -> bool:
        if self.engine_down:
            raise ConnectionError("no sidecar")
        return any(s.order_id == order_id for s in self.started)

    async def raise_event(self, order_id: int, name: str, data: Any) -> None:
        """As the engine does: refused when unreachable or unknown, dropped once finished."""
        if self.engine_down:
            raise ConnectionError("no sidecar")
        if not await self.exists(order_id):
            raise LookupError(f"no such instance: order-{order_id}")
        if order_id not in self.finished:
            self.events.append((order_id, name, data))
