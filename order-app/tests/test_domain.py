"""The order domain: money, delivery time, transitions, step records, rejection reasons."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from order_app.domain import (
    DeliveryTimeInPast,
    InvalidAmount,
    InvalidDeliveryTime,
    InvalidTransition,
    Order,
    OrderRequest,
    OrderStatus,
    RejectionReason,
    StepName,
    StepRecord,
    StepState,
    ensure_future,
    parse_amount,
    parse_dtime,
    rejection,
    slot_start,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def a_request(**changes: object) -> OrderRequest:
    values: dict[str, object] = {
        "login": "ann",
        "email": "ann@example.com",
        "product_id": 1,
        "quantity": 2,
        "amount": Decimal("12.50"),
        "dtime": datetime(2030, 1, 8, 10, 30, tzinfo=UTC),
    }
    return OrderRequest(**(values | changes))


# -- money ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, "1.00"),
        ("12.5", "12.50"),
        (12.1, "12.10"),
        ("0.01", "0.01"),
        ("999999999999.99", "999999999999.99"),
    ],
)
def test_accepts_positive_amounts_with_at_most_two_fraction_digits(raw, expected):
    assert parse_amount(raw) == Decimal(expected)


@pytest.mark.parametrize(
    "raw",
    [0, -1, "-0.01", "1.001", 0.125, "NaN", "Infinity", "ten", True, None, [1], 1.65799178761907e70, "1e13"],
)
def test_refuses_amounts_that_are_not_positive_cents(raw):
    with pytest.raises(InvalidAmount) as err:
        parse_amount(raw)
    assert err.value.field == "amount"


def test_amount_never_goes_through_binary_float_arithmetic():
    assert parse_amount(0.1) + parse_amount(0.2) == Decimal("0.30")


# -- delivery time ----------------------------------------------------------


def test_reads_the_assignments_dtime_format_as_utc():
    assert parse_dtime("2025-01-08 10:00:00") == datetime(2025, 1, 8, 10, tzinfo=UTC)


def test_reads_iso_8601_with_an_offset_and_converts_to_utc():
    assert parse_dtime("2030-01-08T12:00:00+02:00") == datetime(2030, 1, 8, 10, tzinfo=UTC)
    assert parse_dtime("2030-01-08T10:00:00Z") == datetime(2030, 1, 8, 10, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["tomorrow", "2030-13-01 10:00:00", 20300108, None])
def test_refuses_what_is_not_a_date_and_time(raw):
    with pytest.raises(InvalidDeliveryTime):
        parse_dtime(raw)


def test_refuses_a_delivery_time_in_the_past_or_now():
    with pytest.raises(DeliveryTimeInPast):
        ensure_future(NOW - timedelta(seconds=1), NOW)
    with pytest.raises(DeliveryTimeInPast):
        ensure_future(NOW, NOW)
    assert ensure_future(NOW + timedelta(minutes=1), NOW) == NOW + timedelta(minutes=1)


def test_the_courier_slot_starts_on_the_hour_in_utc():
    dtime = datetime(2030, 1, 8, 12, 45, 10, tzinfo=timezone(timedelta(hours=2)))
    assert slot_start(dtime) == datetime(2030, 1, 8, 10, tzinfo=UTC)


# -- order transitions ------------------------------------------------------


def test_a_new_order_is_pending_with_no_step_started():
    order = Order.create(7, a_request(), NOW)

    assert order.status is OrderStatus.PENDING
    assert [s.name for s in order.steps] == list(StepName)
    assert {s.state for s in order.steps} == {StepState.NOT_STARTED}


def test_a_pending_order_completes_once():
    order = Order.create(7, a_request(), NOW).complete((), NOW)

    assert order.status is OrderStatus.COMPLETED
    assert order.complete((), NOW) == order  # the same outcome again: idempotent
    with pytest.raises(InvalidTransition):
        order.reject(RejectionReason.STEP_TIMEOUT, "late", (), NOW)


def test_a_rejected_order_keeps_its_reason_and_cannot_complete():
    order = Order.create(7, a_request(), NOW).reject(RejectionReason.INSUFFICIENT_FUNDS, "no money", (), NOW)

    assert (order.status, order.reason, order.message) == (
        OrderStatus.REJECTED,
        RejectionReason.INSUFFICIENT_FUNDS,
        "no money",
    )
    with pytest.raises(InvalidTransition):
        order.complete((), NOW)


def test_progress_after_the_outcome_does_not_change_a_finished_order():
    order = Order.create(7, a_request(), NOW).complete((), NOW)
    assert order.record_steps((StepRecord(name=StepName.RESERVE_STOCK),), NOW) == order


def test_a_late_write_never_moves_a_step_back():
    requested = StepRecord(name=StepName.CHARGE_PAYMENT).request(NOW)
    timed_out = requested.time_out(NOW, "no answer")
    compensating = timed_out.compensation_sent(NOW)
    order = Order.create(7, a_request(), NOW).record_steps((compensating,), NOW)

    assert order.record_steps((requested,), NOW) == order  # a stale activity run's first write
    assert order.record_steps((timed_out,), NOW) == order
    again = compensating.compensation_sent(NOW)
    assert order.record_steps((again,), NOW).steps == (again,)  # the next round moves on
    assert order.record_steps((again,), NOW).record_steps((compensating,), NOW).steps == (again,)
    # nor is it finished on steps it has moved past: a late grant of the step being undone
    with pytest.raises(InvalidTransition):
        order.complete((requested.succeed(NOW),), NOW)
    assert order.reject(RejectionReason.STEP_TIMEOUT, "late", (compensating.compensate(NOW),), NOW).is_final


def test_the_same_request_has_the_same_fingerprint():
    assert a_request().fingerprint() == a_request().fingerprint()
    assert a_request().fingerprint() != a_request(quantity=3).fingerprint()


# -- steps ------------------------------------------------------------------


def test_a_step_moves_forward_only():
    step = StepRecord(name=StepName.RESERVE_STOCK).request(NOW).succeed(NOW)

    with pytest.raises(InvalidTransition):
        step.request(NOW)
    with pytest.raises(InvalidTransition):
        step.refuse(NOW, "insufficient_stock", "none left")


def test_succeeded_and_timed_out_steps_need_compensation_refused_ones_do_not():
    requested = StepRecord(name=StepName.RESERVE_STOCK).request(NOW)

    assert requested.succeed(NOW).needs_compensation
    assert requested.time_out(NOW, "no reply").needs_compensation
    assert not requested.refuse(NOW, "insufficient_stock", "none").needs_compensation
    with pytest.raises(InvalidTransition):
        requested.refuse(NOW, "insufficient_stock", "none").compensation_sent(NOW)


def test_a_compensation_counts_its_attempts_and_keeps_its_first_time():
    later = NOW + timedelta(seconds=10)
    step = StepRecord(name=StepName.RESERVE_STOCK).request(NOW).succeed(NOW)
    step = step.compensation_sent(NOW).compensation_sent(later).compensate(later)

    assert (step.state, step.compensation_attempts) == (StepState.COMPENSATED, 2)
    assert (step.compensation_requested_at, step.compensated_at) == (NOW, later)


# -- why an order was rejected ----------------------------------------------


def test_a_refusal_explains_a_rejection_better_than_a_timeout():
    stock = StepRecord(name=StepName.RESERVE_STOCK).request(NOW).time_out(NOW, "no reply")
    stock = stock.compensation_sent(NOW).compensate(NOW)
    courier = (
        StepRecord(name=StepName.RESERVE_COURIER).request(NOW).refuse(NOW, "no_courier_available", "all busy")
    )

    reason, message = rejection([stock, courier])

    assert reason is RejectionReason.NO_COURIER_AVAILABLE
    assert message == "Rejected: all busy. Undone: stock reservation released."


def test_an_unknown_refusal_code_becomes_step_failed():
    step = StepRecord(name=StepName.CHARGE_PAYMENT).request(NOW).refuse(NOW, "card_melted", "?")
    assert rejection([step])[0] is RejectionReason.STEP_FAILED
