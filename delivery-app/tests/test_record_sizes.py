"""No record a saga writes grows with the shop's history (issue 16)."""

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from dapr_helpers.saga.contract import ReleaseCourier, ReserveCourier
from dapr_helpers.state import Delete, Operation
from delivery_app.adapters.repository import DeliveryRepository
from delivery_app.service.commands import CommandService
from delivery_app.service.couriers import CourierService
from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher


class SizedStore(InMemoryStateStore):
    """Keeps the largest serialized value written to each kind of record."""

    def __init__(self) -> None:
        super().__init__()
        self.largest: dict[str, int] = {}

    async def transact(self, ops: Sequence[Operation]) -> None:
        await super().transact(ops)
        for op in ops:
            if not isinstance(op, Delete):
                kind = "bookings/{n}" if op.key.startswith("bookings/") else op.key.split(":")[0]
                self.largest[kind] = max(self.largest.get(kind, 0), len(json.dumps(op.value)))


async def test_records_written_on_the_saga_path_stay_the_same_size_over_10_000_commands(caplog):
    caplog.set_level(logging.WARNING, logger="delivery_app.service.commands")  # 10,000 info lines
    store = SizedStore()
    repo = DeliveryRepository(store)
    couriers = CourierService(repo, ["Ann", "Bob"])
    commands = CommandService(repo, couriers, RecordingPublisher(), "order-replies")
    starts = [datetime(2031, 8, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(24)]
    handled, order_id, at_1000 = 0, 1_000_000, None
    while handled < 10_000:
        order_id += 1
        reserve = ReserveCourier(order_id=order_id, action="reserve", slot_start=starts[order_id % 24])
        early, undo = (ReleaseCourier(order_id=i, action="release") for i in (order_id, order_id - 3))
        # Booked, then undone three orders later; every tenth released before its reserve.
        batch = [early, reserve, undo] if order_id % 10 == 0 else [reserve, undo]
        for command in batch:
            await commands.handle(command)
        handled += len(batch)
        if at_1000 is None and handled >= 1_000:
            at_1000 = dict(store.largest)

    assert set(store.largest) == {"booking", "slot", "bookings", "bookings/{n}"}
    assert at_1000 is not None
    # The same, but for the index head's count, which gains a digit past 1,000 bookings.
    assert {k: v for k, v in store.largest.items() if k != "bookings"} == {
        k: v for k, v in at_1000.items() if k != "bookings"
    }
    assert 0 <= store.largest["bookings"] - at_1000["bookings"] <= 1
    assert max(store.largest.values()) < 4096
    page = await couriers.bookings(limit=20)
    assert page.total > 4_000 and page.bookings[0].order_id == order_id
