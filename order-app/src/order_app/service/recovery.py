"""Delivering replies to an order's saga, and replacing a saga whose engine state is lost.

daprd 1.18.2 can leave a workflow instance whose stored metadata names an entry
the store lacks (docs/outages.md). Such an instance never loads again: it takes
no event, fires no timer, and cannot be terminated, purged or started anew
under its id. Its order would stay pending for good.

So a reply (a compensation's acknowledgement) that meets such an instance starts
a replacement saga, under the next instance id (`order-{id}-r1`), from what the
order record says. The record is the saga's own snapshot, saved before every
command it sent, so the replacement knows every step that may have taken effect.
A step that still awaited its answer is compensated like a timed-out one;
participants answer repeated commands the same way and keep tombstones, so
nothing is done twice. The reply is then raised on the replacement, and on any
later generation.

A saga that lost its state when no reply was left to come (on its forward path,
whose answers are activity results, or when only a timer was due) is found by
`StalledSagaSweep`: it checks the pending orders that have been quiet for a while.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from order_app.adapters.repository import OrderRepository
from order_app.adapters.sagas import SagaGateway, state_lost
from order_app.domain import Order
from order_app.workflow.messages import Resume, SagaInput, instance_id

log = logging.getLogger(__name__)

MAX_GENERATIONS = 5  # one loss is rare; five in a row is a broken engine, not bad luck
SWEEP_BATCH = 100  # orders per bulk read


class SagaRecovery:
    """`saga_input` builds an order's saga input (`OrderService.saga_input`)."""

    def __init__(
        self,
        orders: OrderRepository,
        sagas: SagaGateway,
        saga_input: Callable[[Order], SagaInput],
        confirm_seconds: float = 1.0,
    ) -> None:
        self.orders = orders
        self.sagas = sagas
        self.saga_input = saga_input
        self.confirm_seconds = confirm_seconds

    async def raise_event(self, order_id: int, name: str, data: Any) -> None:
        """Raise the event on the order's live saga; errors other than a lost state propagate."""
        for generation in range(MAX_GENERATIONS):
            if (lost := await self._lost_on(order_id, name, data, generation)) is None:
                return
            if await self.sagas.exists(order_id, generation + 1):
                continue  # replaced already
            # Once more, a moment later: a passing store error is not a lost state.
            await asyncio.sleep(self.confirm_seconds)
            if await self._lost_on(order_id, name, data, generation) is None:
                return
            order = await self.orders.get(order_id)
            if order is None or order.is_final:
                return  # no saga waits for it: the event would be ignored anyway
            await self.replace(order, generation + 1, lost)
        raise RuntimeError(f"order {order_id}: the state of {MAX_GENERATIONS} sagas in a row was lost")

    async def _lost_on(self, order_id: int, name: str, data: Any, generation: int) -> Exception | None:
        """None once the event is raised on `generation`; daprd's error if its state is lost."""
        try:
            await self.sagas.raise_event(order_id, name, data, generation)
        except Exception as err:
            if not state_lost(err):
                raise
            return err
        return None

    async def revive(self, order: Order) -> bool:
        """Replace the order's saga if its state was lost; True if it started one."""
        for generation in range(MAX_GENERATIONS):
            if not await self.sagas.lost(order.id, generation):
                return False  # live, or never started (`OrderService._ensure_saga` covers that)
            if await self.sagas.exists(order.id, generation + 1):
                continue
            await asyncio.sleep(self.confirm_seconds)  # a passing store error is not a lost state
            if not await self.sagas.lost(order.id, generation):
                return False
            await self.replace(
                order, generation + 1, RuntimeError(f"{instance_id(order.id, generation)} lost")
            )
            return True
        raise RuntimeError(f"order {order.id}: the state of {MAX_GENERATIONS} sagas in a row was lost")

    async def replace(self, order: Order, generation: int, lost: Exception) -> None:
        """Start the saga's `generation` from the order record."""
        resume = Resume.after_lost_state(order.steps, datetime.now(UTC))
        saga = self.saga_input(order).model_copy(update={"generation": generation, "resume": resume})
        try:
            await self.sagas.start(saga)
        except Exception:
            if not await self.sagas.exists(order.id, generation):
                raise
            return  # another reply started it first
        log.error(
            "order %s: the engine lost its saga's state (%s); %s replaces it, from the order record",
            order.id,
            lost,
            saga.instance_id,
            extra={"order_id": order.id},
        )


class StalledSagaSweep:
    """Every `every` seconds, asks whether the saga of each pending order quiet for
    `quiet` seconds lost its state, and replaces it if so.

    It reads each order once as it appears (ids only grow), then only the ones
    still pending, so a sweep costs a read per new order and one per pending order.
    A healthy quiet saga (a long compensation) costs one status read per sweep.
    """

    def __init__(
        self,
        recovery: SagaRecovery,
        orders: OrderRepository,
        every: float,
        quiet: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.recovery = recovery
        self.orders = orders
        self.every = every
        self.quiet = quiet
        self.clock = clock
        self.read_up_to = 0  # every order up to this id has been read once
        self.pending: set[int] = set()
        self.unseen: set[int] = set()  # ids with no record yet (being stored, or removed): read once more

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.sweep()
            except Exception as err:  # the sidecar or the store is away: the next sweep tries again
                log.warning("stalled-saga sweep failed: %s", err)

    async def sweep(self) -> list[int]:
        """The orders whose saga was replaced."""
        last = await self.orders.last_id()
        new = set(range(self.read_up_to + 1, last + 1))
        ids = sorted(self.pending | self.unseen | new)
        found: set[int] = set()
        replaced = []
        for start in range(0, len(ids), SWEEP_BATCH):
            for order in await self.orders.get_many(ids[start : start + SWEEP_BATCH]):
                found.add(order.id)
                if order.is_final:
                    self.pending.discard(order.id)
                    continue
                self.pending.add(order.id)
                if self.clock() - order.updated_at >= self.quiet and await self.recovery.revive(order):
                    replaced.append(order.id)
        self.read_up_to = max(self.read_up_to, last)
        self.unseen = new - found
        return replaced
