"""The saga steps: reserve and release, each idempotent by (order id, action).

Each attempt is a unit of work (`StockUnit`): one transaction writes the effect
(the product's counts, the contended record), the outcome (the order's
reservation record) and, for a successful reserve, the entry of the product's
reservations index, each checked against the ETag it was read with (the index's
head's, for the entry); a conflict re-runs the whole read-decide-write.
The reply is published after the commit; a duplicate command re-publishes the
stored outcome.
"""

import logging

from dapr_helpers.pubsub import Publisher
from dapr_helpers.saga.contract import STOCK, ReleaseStock, ReserveStock
from dapr_helpers.saga.handler import Handler, ParticipantCommands
from dapr_helpers.saga.participation import Outcome

from stock_app.adapters.repository import StockRepository

log = logging.getLogger(__name__)


class CommandService(ParticipantCommands):
    def __init__(self, repo: StockRepository, publisher: Publisher, replies_topic: str) -> None:
        self.repo = repo
        handlers: dict[str, Handler] = {"reserve": self._reserve, "release": self._release}
        super().__init__(STOCK.name, handlers, publisher, replies_topic, log)

    async def _reserve(self, command: ReserveStock) -> Outcome:
        stock = self.repo.unit()
        reservation, product = await stock.reservation_and_product(command.order_id, command.product_id)
        if (done := reservation.outcome_of("reserve")) is not None:
            return done
        outcome = reservation.reserve(product, command.product_id, command.quantity)
        stock.save_reservation(reservation)
        if outcome.ok and product is not None:
            stock.save_product(product, reservation)
        await stock.commit()
        return outcome

    async def _release(self, command: ReleaseStock) -> Outcome:
        stock = self.repo.unit()
        reservation = await stock.reservation(command.order_id)
        if (done := reservation.outcome_of("release")) is not None:
            return done
        product = None
        if reservation.status == "reserved" and reservation.product_id is not None:  # a second read
            product = await stock.product(reservation.product_id)
        # The reservation record says how many units the order holds; the index entry stays
        # as history, and the listing shows it `released` from this record.
        outcome = reservation.release(product)
        stock.save_reservation(reservation)
        if product is not None:
            stock.save_product(product)
        await stock.commit()
        return outcome
