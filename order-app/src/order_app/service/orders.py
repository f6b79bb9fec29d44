"""Placing an order: idempotency, synchronous checks, the record, then its saga.

A refused request changes nothing: every check runs before the first write,
and if the saga cannot be started the record is removed again.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from dapr_helpers.logging import bind_order
from dapr_helpers.tracing import current_traceparent

from order_app.adapters.directory import Directory
from order_app.adapters.idempotency import Claim, IdempotencyKeys
from order_app.adapters.repository import OrderRepository
from order_app.adapters.sagas import SagaGateway
from order_app.config import Settings
from order_app.domain import Order, OrderRequest, UnknownAccount, UnknownProduct, ensure_future, slot_start
from order_app.service.metrics import saga_started
from order_app.workflow.messages import SagaInput, SagaTimeouts

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class IdempotencyKeyReused(Exception):
    code = "idempotency_key_reused"


class IdempotencyKeyInFlight(Exception):
    code = "idempotency_key_in_flight"


class SagaUnavailable(Exception):
    code = "saga_unavailable"


def utc_now() -> datetime:
    return datetime.now(UTC)


class OrderService:
    def __init__(
        self,
        orders: OrderRepository,
        keys: IdempotencyKeys,
        directory: Directory,
        sagas: SagaGateway,
        settings: Settings,
        clock: Clock = utc_now,
    ) -> None:
        self.orders = orders
        self.keys = keys
        self.directory = directory
        self.sagas = sagas
        self.settings = settings
        self.clock = clock

    async def place(self, request: OrderRequest, idempotency_key: str | None) -> tuple[Order, bool]:
        """The order and whether this call created it (False: an idempotent replay)."""
        if idempotency_key and (claim := await self.keys.find(idempotency_key)):
            return await self._replay(claim, request), False
        await self._check(request)

        if idempotency_key:
            # The key is claimed for the new id before anything is stored, so a
            # concurrent retry with the same key finds the claim, not a second order.
            order = Order.create(await self.orders.next_id(), request, self.clock())
            claim = Claim(fingerprint=request.fingerprint(), order_id=order.id)
            if winner := await self.keys.claim(idempotency_key, claim):  # a concurrent retry won
                return await self._replay(winner, request), False
            await self._store(order, idempotency_key)
        else:
            order = await self.orders.add_new(
                request.login, lambda order_id: Order.create(order_id, request, self.clock())
            )
        with bind_order(order.id):
            await self._start_saga(order, idempotency_key)
            saga_started()
            log.info("order %s created; saga started", order.id)
        return order, True

    async def _check(self, request: OrderRequest) -> None:
        ensure_future(request.dtime, self.clock())
        account, product = await asyncio.gather(  # two services: ask both at once
            self.directory.account_exists(request.login), self.directory.product_exists(request.product_id)
        )
        if not account:
            raise UnknownAccount(request.login)
        if not product:
            raise UnknownProduct(request.product_id)

    async def _store(self, order: Order, idempotency_key: str | None) -> None:
        try:
            await self.orders.add(order)
        except Exception:
            if idempotency_key:  # the claim must not point at an order that was never stored
                await self.keys.release(idempotency_key)
            raise

    async def _replay(self, claim: Claim, request: OrderRequest) -> Order:
        if claim.fingerprint != request.fingerprint():
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different request body")
        order = await self.orders.get(claim.order_id)
        if order is None:
            raise IdempotencyKeyInFlight("a request with this Idempotency-Key is still being processed")
        await self._ensure_saga(order)
        return order

    async def _ensure_saga(self, order: Order) -> None:
        """Start a pending order's saga if it never started: the sidecar went away after the
        record was stored, so neither the start nor the record's removal went through, and
        the retry is the only request left to start it (found by `make soak`, docs/soak.md).
        The instance id is the order's: a start that did go through is found, never repeated."""
        if order.is_final or await self._saga_exists(order.id):
            return
        with bind_order(order.id):
            try:
                await self.sagas.start(self.saga_input(order))
            except Exception as err:
                if await self._saga_exists(order.id):
                    return  # a concurrent request started it
                log.error("saga for order %s could not be started on a retry: %s", order.id, err)
                raise SagaUnavailable("the order saga could not be started; try again later") from None
            saga_started()
            log.warning("order %s: its saga had not started; started on a retry", order.id)

    async def _start_saga(self, order: Order, idempotency_key: str | None) -> None:
        try:
            await self.sagas.start(self.saga_input(order))
        except Exception as err:
            if await self._saga_exists(order.id):
                return  # the start went through; only its answer was lost
            log.error("saga for order %s could not be started: %s", order.id, err)
            await self.orders.remove(order)
            if idempotency_key:
                await self.keys.release(idempotency_key)
            raise SagaUnavailable("the order saga could not be started; try again later") from None

    async def _saga_exists(self, order_id: int) -> bool:
        try:
            return await self.sagas.exists(order_id)
        except Exception:
            return False

    def saga_input(self, order: Order) -> SagaInput:
        s = self.settings
        timeouts = SagaTimeouts(
            step=s.step_timeout_seconds,
            compensation_first=s.compensation_timeout_seconds,
            compensation_max=s.compensation_max_backoff_seconds,
            compensation_rounds_per_run=s.compensation_rounds_per_run,
        )
        return SagaInput(
            order_id=order.id,
            login=order.login,
            product_id=order.product_id,
            quantity=order.quantity,
            amount=order.amount,
            slot_start=slot_start(order.dtime),
            timeouts=timeouts,
            traceparent=current_traceparent(),  # this request's: the saga continues its trace
        )
