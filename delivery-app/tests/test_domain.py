from datetime import UTC, datetime, timedelta, timezone

import pytest
from delivery_app.domain.booking import OrderBooking
from delivery_app.domain.courier import Courier, add_courier, default_roster
from delivery_app.domain.errors import InvalidCourier, NoCourierAvailable
from delivery_app.domain.slot import Slot, slot_start

START = datetime(2031, 5, 1, 10, tzinfo=UTC)


def test_slot_is_the_hour_starting_on_the_hour_of_dtime():
    assert slot_start(datetime(2031, 5, 1, 10, 59, 59)) == START
    assert slot_start(datetime(2031, 5, 1, 13, 30, tzinfo=timezone(timedelta(hours=3)))) == START


def test_a_courier_has_at_most_one_booking_per_slot():
    slot = Slot(START)
    assert slot.book(1, ["c1", "c2"]) == "c1"
    assert slot.book(2, ["c1", "c2"]) == "c2"
    with pytest.raises(NoCourierAvailable):
        slot.book(3, ["c1", "c2"])
    assert slot.bookings == {"c1": 1, "c2": 2}


def test_release_frees_the_courier_for_the_next_order():
    slot = Slot(START)
    slot.book(1, ["c1"])
    assert slot.release(1) == "c1"
    assert slot.release(1) is None
    assert slot.book(2, ["c1"]) == "c1"


def test_one_courier_serves_different_slots():
    roster = ["c1"]
    assert Slot(START).book(1, roster) == Slot(START + timedelta(hours=1)).book(2, roster) == "c1"


def test_refuses_reserve_after_release():
    booking = OrderBooking(5)
    assert booking.release(None).ok
    assert booking.status == "cancelled"
    slot = Slot(START)
    late = booking.reserve(slot, ["c1"])
    assert (late.ok, late.reason) == (False, "order_cancelled")
    assert slot.bookings == {}


def test_second_order_for_a_full_slot_is_refused_with_a_reason():
    slot = Slot(START)
    assert OrderBooking(1).reserve(slot, ["c1"]).ok
    refused = OrderBooking(2).reserve(slot, ["c1"])
    assert (refused.ok, refused.reason) == (False, "no_courier_available")


def test_added_courier_gets_the_next_free_id_and_needs_a_name():
    roster = default_roster(["Ann"])
    assert roster == [Courier("courier-1", "Ann")]
    assert add_courier(roster, " Bob ") == Courier("courier-2", "Bob")
    with pytest.raises(InvalidCourier):
        add_courier(roster, "  ")


def test_a_slot_never_holds_more_entries_than_there_are_couriers():
    roster, slot = ["c1", "c2", "c3"], Slot(START)
    for order_id in range(1, 200):
        booking = OrderBooking(order_id)
        booking.reserve(slot, roster)
        if order_id % 3:  # most orders are undone, so couriers keep coming free
            booking.release(slot if booking.status == "booked" else None)
        assert len(slot.bookings) <= len(roster)
        assert len(set(slot.bookings.values())) == len(slot.bookings)
    assert sorted(slot.bookings) == roster
