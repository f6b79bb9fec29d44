"""The saga steps: reserve and release, each idempotent by (order id, action).

One state transaction writes the effect (the product's counts, the contended
record, with its ETag), the outcome (the order's reservation record, with its
ETag) and, for a successful reserve, the entry of the product's reservations
index (its head, with its ETag); a conflict re-runs the whole read-decide-write.
The reply is published after the commit; a duplicate command re-publishes the
stored outcome.
"""

import logging

from dapr_helpers.pubsub import Publisher
from dapr_helpers.state import Operation, retry_on_conflict

from stock_app.adapters.repository import StockRepository
from stock_app.domain.reservation import Outcome
from stock_app.messages import Command, ReleaseCommand, Reply, ReserveCommand

log = logging.getLogger(__name__)


class CommandService:
    def __init__(self, repo: StockRepository, publisher: Publisher, replies_topic: str) -> None:
        self.repo = repo
        self.publisher = publisher
        self.replies_topic = replies_topic

    async def handle(self, command: Command) -> Reply:
        apply = self._reserve if isinstance(command, ReserveCommand) else self._release
        outcome = await retry_on_conflict(lambda: apply(command))  # type: ignore[arg-type]
        reply = Reply(order_id=command.order_id, action=command.action, **vars(outcome))
        await self.publisher.publish(self.replies_topic, reply)
        log.info("%s (attempt %s): ok=%s %s", command.action, command.attempt, reply.ok, reply.message)
        return reply

    async def _reserve(self, command: ReserveCommand) -> Outcome:
        (reservation, reservation_etag), stored = await self.repo.reservation_and_product(
            command.order_id, command.product_id
        )
        if (done := reservation.outcome_of("reserve")) is not None:
            return done
        product = None if stored is None else stored.product
        outcome = reservation.reserve(product, command.product_id, command.quantity)
        ops: list[Operation] = [self.repo.save_reservation(reservation, reservation_etag)]
        if outcome.ok and stored is not None:
            ops += stored.save(reservation)
        await self.repo.commit(*ops)
        return outcome

    async def _release(self, command: ReleaseCommand) -> Outcome:
        reservation, reservation_etag = await self.repo.reservation(command.order_id)
        if (done := reservation.outcome_of("release")) is not None:
            return done
        stored = None
        if reservation.status == "reserved" and reservation.product_id is not None:
            stored = await self.repo.stored_product(reservation.product_id)
        # The reservation record says how many units the order holds; the index entry stays
        # as history, and the listing shows it `released` from this record.
        outcome = reservation.release(None if stored is None else stored.product)
        ops: list[Operation] = [self.repo.save_reservation(reservation, reservation_etag)]
        if stored is not None:
            ops += stored.save()
        await self.repo.commit(*ops)
        return outcome
