"""The saga steps: reserve and release, each idempotent by (order id, action).

One state transaction writes the effect (the product, the contended record,
with its ETag) and the outcome (the order's reservation record, with its
ETag); a conflict re-runs the whole read-decide-write. The reply is published
after the commit; a duplicate command re-publishes the stored outcome.
"""

import logging

from dapr_helpers.pubsub import Publisher
from dapr_helpers.state import retry_on_conflict

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
        (reservation, reservation_etag), (product, product_etag) = await self.repo.reservation_and_product(
            command.order_id, command.product_id
        )
        if (done := reservation.outcome_of("reserve")) is not None:
            return done
        outcome = reservation.reserve(product, command.product_id, command.quantity)
        ops = [self.repo.save_reservation(reservation, reservation_etag)]
        if outcome.ok and product is not None:
            ops.append(self.repo.save_product(product, product_etag))
        await self.repo.commit(*ops)
        return outcome

    async def _release(self, command: ReleaseCommand) -> Outcome:
        reservation, reservation_etag = await self.repo.reservation(command.order_id)
        if (done := reservation.outcome_of("release")) is not None:
            return done
        product, product_etag = (None, None)
        if reservation.status == "reserved" and reservation.product_id is not None:
            product, product_etag = await self.repo.product(reservation.product_id)
        outcome = reservation.release(product)
        ops = [self.repo.save_reservation(reservation, reservation_etag)]
        if product is not None:
            ops.append(self.repo.save_product(product, product_etag))
        await self.repo.commit(*ops)
        return outcome
