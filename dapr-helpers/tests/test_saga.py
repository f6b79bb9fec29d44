"""The saga's shared pieces: the message contract, the participation lifecycle and the
command handler's dispatch table."""

import asyncio
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from dapr_helpers.saga.contract import (
    BILLING,
    DELIVERY,
    REPLIES_TOPIC,
    STOCK,
    ChargePayment,
    RefundPayment,
    ReleaseCourier,
    ReleaseStock,
    Reply,
    ReserveCourier,
    ReserveStock,
    event_name,
)
from dapr_helpers.saga.handler import ParticipantCommands
from dapr_helpers.saga.participation import (
    Outcome,
    Participation,
    StepRefused,
    outcomes_from_json,
    outcomes_to_json,
)
from dapr_helpers.state import ConcurrencyConflict
from pydantic import ValidationError
from saga_testkit.dapr import RecordingPublisher

# -- the contract ------------------------------------------------------------------------

# What the orchestrator has always put on the wire, byte for byte (json.dumps of its dicts).
WIRE = [
    (
        STOCK,
        ReserveStock(order_id=42, attempt=2, product_id=7, quantity=3),
        '{"order_id": 42, "action": "reserve", "attempt": 2, "product_id": 7, "quantity": 3}',
    ),
    (STOCK, ReleaseStock(order_id=42, attempt=1), '{"order_id": 42, "action": "release", "attempt": 1}'),
    (
        DELIVERY,
        ReserveCourier(order_id=42, slot_start=datetime(2030, 1, 8, 10, tzinfo=UTC)),
        '{"order_id": 42, "action": "reserve", "attempt": 1, "slot_start": "2030-01-08T10:00:00+00:00"}',
    ),
    (DELIVERY, ReleaseCourier(order_id=42, attempt=3), '{"order_id": 42, "action": "release", "attempt": 3}'),
    (
        BILLING,
        ChargePayment(order_id=42, login="ann", amount=Decimal("12.5")),
        '{"order_id": 42, "action": "charge", "attempt": 1, "login": "ann", "amount": "12.50"}',
    ),
    (BILLING, RefundPayment(order_id=42, attempt=4), '{"order_id": 42, "action": "refund", "attempt": 4}'),
]


@pytest.mark.parametrize(("participant", "command", "wire"), WIRE)
def test_commands_go_out_as_they_always_have_and_parse_back(participant, command, wire):
    assert json.dumps(command.model_dump(mode="json")) == wire
    assert participant.parse(json.loads(wire)) == command


def test_topics_and_events():
    assert (STOCK.topic, DELIVERY.topic, BILLING.topic) == (
        "stock-commands",
        "delivery-commands",
        "billing-commands",
    )
    assert REPLIES_TOPIC == "order-replies"
    assert event_name(BILLING.name, BILLING.undo) == "billing.refund"
    assert (STOCK.do, STOCK.undo, BILLING.do, DELIVERY.do) == ("reserve", "release", "charge", "reserve")


def test_the_old_field_names_are_still_read():
    reserve = STOCK.parse({"order_id": 1, "action": "reserve", "id_product": 7, "quntity": 2})
    assert (reserve.product_id, reserve.quantity, reserve.attempt) == (7, 2, 1)  # type: ignore[attr-defined]
    booking = DELIVERY.parse({"order_id": 1, "action": "reserve", "dtime": "2030-01-08T10:00:00Z"})
    assert booking.slot_start == datetime(2030, 1, 8, 10, tzinfo=UTC)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("participant", "data"),
    [
        (STOCK, {"order_id": 1, "action": "reserve", "product_id": 7, "quantity": 0}),
        (STOCK, {"order_id": 1, "action": "charge"}),
        (STOCK, {"order_id": 1}),
        (BILLING, {"order_id": 1, "action": "charge", "login": "", "amount": "1.00"}),
        (BILLING, {"order_id": 1, "action": "charge", "login": "ann", "amount": "1.005"}),
        (BILLING, {"order_id": 1, "action": "charge", "login": "ann", "amount": "-1"}),
        (DELIVERY, {"order_id": 1, "action": "reserve", "slot_start": "soon"}),
    ],
)
def test_what_breaks_the_contract_is_refused(participant, data):
    with pytest.raises(ValidationError):
        participant.parse(data)


def test_a_reply_round_trips_as_the_docs_show_it():
    wire = {
        "order_id": 42,
        "participant": "stock",
        "action": "reserve",
        "ok": False,
        "reason": "insufficient_stock",
        "message": "product 7 has 3 units available, 5 requested",
        "details": {},
    }
    reply = Reply.model_validate(wire)
    assert reply.model_dump(mode="json") == wire
    assert list(reply.model_dump(mode="json")) == list(wire)
    assert Reply(order_id=1, participant="billing", action="refund", ok=True).details == {}


# -- the participation lifecycle -----------------------------------------------------------


class Refused(StepRefused):
    code = "no_more"


class Cancelled(Refused):
    code = "order_cancelled"

    def __init__(self, order_id: int) -> None:
        super().__init__(f"order {order_id} was undone first")


class Tickets(Participation):
    """A toy resource: a counter of tickets."""

    DO, UNDO, DONE, UNDONE = "take", "give", "taken", "given"
    REFUSALS, CANCELLED = Refused, Cancelled


def _take(left: list[int]):
    def effect():
        if not left[0]:
            raise Refused("none left")
        left[0] -= 1
        return "took one", {"left": left[0]}

    return effect


def _give(left: list[int]):
    def effect():
        left[0] += 1
        return "gave one back", {"given": 1}

    return effect


def test_do_then_undo():
    left, record = [1], Tickets(1)
    assert record.do(_take(left)) == Outcome(True, None, "took one", {"left": 0})
    assert (record.status, left) == ("taken", [0])
    assert record.undo(_give(left), nothing={"given": 0}) == Outcome(
        True, None, "gave one back", {"given": 1}
    )
    assert (record.status, left) == ("given", [1])
    assert record.outcome_of("take").ok and record.outcome_of("give").ok  # type: ignore[union-attr]


def test_a_refused_do_changes_nothing_and_its_undo_gives_nothing_back():
    left, record = [0], Tickets(2)
    assert record.do(_take(left)) == Outcome(False, "no_more", "none left")
    assert record.status == "refused"
    undo = record.undo(_give(left), nothing={"given": 0})
    assert undo == Outcome(True, None, "nothing to give", {"given": 0})
    assert (record.status, left) == ("refused", [0])


def test_an_undo_before_the_do_leaves_a_tombstone_that_refuses_the_late_do():
    left, record = [5], Tickets(3)
    undo = record.undo(_give(left), nothing={"given": 0})
    assert undo == Outcome(True, None, "nothing was taken; order cancelled", {"given": 0})
    assert record.status == "cancelled"
    late = record.do(_take(left))
    assert late == Outcome(False, "order_cancelled", "order 3 was undone first")
    assert (record.status, left) == ("cancelled", [5])


def test_the_first_outcome_is_kept_and_round_trips_as_json():
    left, record = [1], Tickets(4)
    first = record.do(_take(left))
    assert record.outcome_of("take") is first and record.outcome_of("give") is None
    stored = outcomes_to_json(record.outcomes)
    assert stored == {"take": {"ok": True, "reason": None, "message": "took one", "details": {"left": 0}}}
    assert outcomes_from_json(json.loads(json.dumps(stored))) == record.outcomes


# -- the command handler ---------------------------------------------------------------------


def test_commands_are_dispatched_by_action_retried_on_conflict_and_answered(caplog):
    publisher, handled, conflicts = RecordingPublisher(), [], [1]

    async def reserve(command: ReserveStock) -> Outcome:
        if conflicts[0]:
            conflicts[0] -= 1
            raise ConcurrencyConflict("someone else wrote")
        handled.append(("reserve", command.quantity))
        return Outcome(True, None, "reserved", {"n": 1})

    async def release(command: ReleaseStock) -> Outcome:
        handled.append(("release", command.order_id))
        return Outcome(True, None, "released")

    log = logging.getLogger("test_saga.commands")
    handler = ParticipantCommands(
        "stock", {"reserve": reserve, "release": release}, publisher, "replies", log
    )
    caplog.set_level(logging.INFO, "test_saga.commands")

    reply = asyncio.run(handler.handle(ReserveStock(order_id=9, attempt=2, product_id=1, quantity=4)))
    asyncio.run(handler.handle(ReleaseStock(order_id=9)))

    assert handled == [("reserve", 4), ("release", 9)]
    assert reply == Reply(
        order_id=9, participant="stock", action="reserve", ok=True, message="reserved", details={"n": 1}
    )
    assert [topic for topic, _ in publisher.published] == ["replies", "replies"]
    assert publisher.published[0][1] == reply.model_dump(mode="json")
    assert caplog.messages == [
        "reserve (attempt 2): ok=True reserved",
        "release (attempt 1): ok=True released",
    ]
