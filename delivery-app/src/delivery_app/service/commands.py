"""The saga steps: reserve and release a courier, each idempotent by (order id, action).

Each attempt is a unit of work (`DeliveryUnit`): one transaction writes the
effect (the slot, the contended record: a courier is a key of the slot's
bookings, so it cannot be booked twice), the outcome (the order's booking
record) and, for a booking, its entry in the bookings index, each checked
against the ETag it was read with (the index head's ETag orders concurrent
bookings). A conflict re-runs the whole read-decide-write. The
reply is published after the commit; a duplicate command re-publishes the
stored outcome.
"""

import logging

from dapr_helpers.pubsub import Publisher
from dapr_helpers.saga.contract import DELIVERY, ReleaseCourier, ReserveCourier
from dapr_helpers.saga.handler import Handler, ParticipantCommands
from dapr_helpers.saga.participation import Outcome

from delivery_app.adapters.repository import DeliveryRepository
from delivery_app.domain.slot import slot_start
from delivery_app.service.couriers import CourierService

log = logging.getLogger(__name__)


class CommandService(ParticipantCommands):
    def __init__(
        self, repo: DeliveryRepository, couriers: CourierService, publisher: Publisher, replies_topic: str
    ) -> None:
        self.repo = repo
        self.couriers = couriers
        handlers: dict[str, Handler] = {"reserve": self._reserve, "release": self._release}
        super().__init__(DELIVERY.name, handlers, publisher, replies_topic, log)

    async def _reserve(self, command: ReserveCourier) -> Outcome:
        delivery = self.repo.unit()
        booking, slot, added = await delivery.for_reserve(command.order_id, slot_start(command.slot_start))
        if (done := booking.outcome_of("reserve")) is not None:
            return done
        outcome = booking.reserve(slot, [c.id for c in self.couriers.roster_with(added)])
        delivery.save_booking(booking)
        if outcome.ok:
            delivery.save_slot(slot)
            await delivery.add_booked(booking.order_id)
        await delivery.commit()
        return outcome

    async def _release(self, command: ReleaseCourier) -> Outcome:
        delivery = self.repo.unit()
        booking = await delivery.booking(command.order_id)
        if (done := booking.outcome_of("release")) is not None:
            return done
        slot = None
        if booking.status == "booked" and booking.slot_start is not None:  # a second read: the courier's
            slot = await delivery.slot(booking.slot_start)
        outcome = booking.release(slot)
        delivery.save_booking(booking)
        if slot is not None:
            delivery.save_slot(slot)
        await delivery.commit()
        return outcome
