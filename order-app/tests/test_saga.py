"""The saga, driven without a sidecar: commands out, answers, acknowledgements and timers in."""

from datetime import timedelta

import pytest
from dapr.ext.workflow import TaskFailedError
from dapr.ext.workflow._durabletask.task import NonRetryableError
from order_app.workflow.messages import SagaInput, SagaTimeouts
from order_app.workflow.saga import RECORD_AND_SEND, RETRY_BRIEFLY, RETRY_PATIENTLY

from .conftest import SagaRun  # type: ignore[import-not-found]

RESERVE_BOTH = [("stock", "reserve"), ("delivery", "reserve")]
SECOND = timedelta(seconds=1)
# The timeouts the saga fixture starts with (see conftest.py).
STEP_TIMEOUT = timedelta(seconds=30)
COMPENSATION_FIRST = timedelta(seconds=10)
COMPENSATION_MAX = timedelta(seconds=40)
ROUNDS = SagaTimeouts.model_fields["compensation_rounds_per_run"].default  # before continuing as new


def test_reserves_stock_and_courier_in_parallel_before_any_reply(start_saga):
    run = start_saga()

    assert run.commands() == RESERVE_BOTH
    stock, courier = run.command_bodies()
    assert stock == {"order_id": 7, "action": "reserve", "attempt": 1, "product_id": 3, "quantity": 2}
    assert courier == {
        "order_id": 7,
        "action": "reserve",
        "attempt": 1,
        "slot_start": "2030-01-08T10:00:00+00:00",
    }
    assert run.step_states() == {
        "reserve_stock": "requested",
        "reserve_courier": "requested",
        "charge_payment": "not_started",
    }


def test_one_activity_records_both_steps_as_requested_and_sends_both_commands(start_saga):
    run = start_saga()

    [call] = run.ctx.activities
    assert call.name == RECORD_AND_SEND
    assert [step["state"] for step in call.input["steps"]] == ["requested", "requested", "not_started"]
    assert [request["participant"] for request in call.input["requests"]] == ["stock", "delivery"]
    assert call.input["commands"] == []


def test_charges_only_after_both_reservations_succeed(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    assert ("billing", "charge") not in run.commands()

    run.reply("delivery", "reserve")

    assert run.commands()[-1] == ("billing", "charge")
    assert run.command_bodies()[-1] == {
        "order_id": 7,
        "action": "charge",
        "attempt": 1,
        "login": "ann",
        "amount": "12.50",
    }


def test_completes_the_order_when_every_step_succeeds(start_saga):
    run = start_saga()
    run.reply("delivery", "reserve")  # replies may come in any order
    run.reply("stock", "reserve")
    run.reply("billing", "charge")

    assert run.result == {"status": "completed", "reason": None, "message": "The order is completed."}
    assert run.commands() == [*RESERVE_BOTH, ("billing", "charge")]
    assert run.ctx.custom_status == "completed"


def test_the_pivots_activity_records_the_order_completed_once_the_charge_is_granted(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve")
    run.reply("billing", "charge")

    charge = run.snapshots()[-1]
    assert [r["body"]["action"] for r in charge["requests"]] == ["charge"]
    assert charge["if_granted"] == {
        "status": "completed",
        "reason": None,
        "message": "The order is completed.",
    }
    assert [s["state"] for s in charge["steps"]] == ["succeeded", "succeeded", "requested"]
    # Only the pivot decides an outcome with its answer.
    assert [s["if_granted"] for s in run.snapshots()[:-1]] == [None]


def test_a_successful_saga_is_two_activities_with_no_timer_and_no_event(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve")
    run.reply("billing", "charge")

    assert run.finished
    assert [call.name for call in run.ctx.activities] == [RECORD_AND_SEND] * 2
    assert run.ctx.timers == []
    assert run.ctx.waiting == {}  # every answer came as an activity's result
    # Each request is answered within the step timeout, the deadline of its invocation.
    assert {call.input["answer_within"] for call in run.ctx.activities} == {"PT30S"}


def test_a_granted_charge_whose_outcome_was_not_recorded_is_recorded_by_the_saga(start_saga):
    run = start_saga()
    run.ctx.records_granted = False  # the store went away between the charge and its record
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve")
    run.reply("billing", "charge")

    assert run.result is not None and run.result["status"] == "completed"
    record = run.ctx.activities[-1]
    assert len(run.ctx.activities) == 3 and record.retry_policy is RETRY_PATIENTLY
    assert record.input["outcome"]["status"] == "completed" and record.input["requests"] == []
    assert set(run.step_states().values()) == {"succeeded"}
    assert run.commands() == [*RESERVE_BOTH, ("billing", "charge")]  # nothing is asked again


def test_a_refused_charge_records_no_outcome_with_it_and_is_compensated(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve")
    run.reply("billing", "charge", ok=False, reason="insufficient_funds")

    assert run.ctx.activities[-2].task.get_result()["outcome"] is None
    assert run.commands()[3:] == [("stock", "release"), ("delivery", "release")]


def test_a_request_the_participant_could_not_read_counts_as_unanswered(start_saga):
    run = start_saga()
    refused = {"reply": None, "error": "stock refused the command: product_id: field required"}
    run.ctx.activities[0].answer(("stock", "reserve"), refused)
    run.reply("delivery", "reserve")

    assert run.commands()[2:] == [("stock", "release"), ("delivery", "release")]
    stock = run.snapshots()[-1]["steps"][0]
    assert (stock["name"], stock["reason"]) == ("reserve_stock", "step_timeout")
    assert stock["message"] == refused["error"]


def test_stock_refused_releases_the_courier_and_never_charges(start_saga):
    run = start_saga()
    run.reply("stock", "reserve", ok=False, reason="insufficient_stock")
    run.reply("delivery", "reserve")

    assert run.commands() == [*RESERVE_BOTH, ("delivery", "release")]
    run.reply("delivery", "release")

    assert run.result["status"] == "rejected"
    assert run.result["reason"] == "insufficient_stock"
    assert "courier booking released" in run.result["message"]
    assert run.step_states() == {
        "reserve_stock": "refused",
        "reserve_courier": "compensated",
        "charge_payment": "not_started",
    }


def test_courier_refused_releases_the_stock(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve", ok=False, reason="no_courier_available")

    assert run.commands() == [*RESERVE_BOTH, ("stock", "release")]
    run.reply("stock", "release")

    assert run.result["reason"] == "no_courier_available"
    assert run.step_states()["reserve_stock"] == "compensated"


def test_both_reservations_refused_compensate_nothing(start_saga):
    run = start_saga()
    run.reply("stock", "reserve", ok=False, reason="insufficient_stock")
    run.reply("delivery", "reserve", ok=False, reason="no_courier_available")

    assert run.commands() == RESERVE_BOTH
    assert run.result["reason"] == "insufficient_stock"  # the first step's refusal explains it


def test_payment_refused_releases_stock_and_courier_and_refunds_nothing(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve")
    run.reply("billing", "charge", ok=False, reason="insufficient_funds")

    assert run.commands()[3:] == [("stock", "release"), ("delivery", "release")]
    run.reply("stock", "release")
    assert not run.finished  # every compensation must be acknowledged
    run.reply("delivery", "release")

    assert run.result["reason"] == "insufficient_funds"
    assert ("billing", "refund") not in run.commands()
    assert run.step_states() == {
        "reserve_stock": "compensated",
        "reserve_courier": "compensated",
        "charge_payment": "refused",
    }


def test_a_reservation_timeout_compensates_that_step_too(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.elapse(STEP_TIMEOUT)  # the courier never answers

    # The courier's command went out and may still arrive: it is released too.
    assert run.commands()[2:] == [("stock", "release"), ("delivery", "release")]
    run.reply("stock", "release")
    run.reply("delivery", "release")

    assert run.result["reason"] == "step_timeout"
    assert run.step_states()["reserve_courier"] == "compensated"
    assert ("billing", "charge") not in run.commands()


def test_a_payment_timeout_refunds_and_releases_everything(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve")
    run.elapse(STEP_TIMEOUT)

    assert sorted(run.commands()[3:]) == [
        ("billing", "refund"),
        ("delivery", "release"),
        ("stock", "release"),
    ]
    for participant, action in [("stock", "release"), ("delivery", "release"), ("billing", "refund")]:
        run.reply(participant, action)
    assert run.result["reason"] == "step_timeout"
    assert set(run.step_states().values()) == {"compensated"}


def test_a_reply_just_before_the_deadline_counts(start_saga):
    run = start_saga()
    run.elapse(STEP_TIMEOUT - SECOND)
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve")

    assert run.commands()[-1] == ("billing", "charge")


def test_an_unacknowledged_compensation_is_resent_until_acknowledged(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve", ok=False, reason="no_courier_available")
    assert run.commands().count(("stock", "release")) == 1

    run.elapse(COMPENSATION_FIRST)
    run.elapse(COMPENSATION_FIRST * 2)
    assert run.commands().count(("stock", "release")) == 3
    assert [b["attempt"] for b in run.command_bodies() if b["action"] == "release"] == [1, 2, 3]
    assert not run.finished

    run.reply("stock", "release")  # one late ack ends it, whichever attempt it answers
    assert run.result["reason"] == "no_courier_available"
    assert run.snapshots()[-1]["steps"][0]["compensation_attempts"] == 3


def test_waits_between_resends_grow_but_stay_bounded(start_saga):
    run = start_saga()
    run.reply("stock", "reserve", ok=False, reason="insufficient_stock")
    run.reply("delivery", "reserve")

    for _ in range(6):
        run.elapse(COMPENSATION_MAX)
    waits = [timer.wait for timer in run.ctx.timers]  # a successful step waits on no timer
    assert waits[:3] == [COMPENSATION_FIRST, COMPENSATION_FIRST * 2, COMPENSATION_MAX]
    assert max(waits) == COMPENSATION_MAX
    assert not run.finished


def test_a_compensation_unanswered_for_many_rounds_continues_as_new_where_it_stood(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve", ok=False, reason="no_courier_available")
    for _ in range(ROUNDS):
        run.elapse(COMPENSATION_MAX)  # stock never acknowledges

    assert run.ctx.continued is not None and not run.finished
    new_input, save_events = run.ctx.continued
    assert save_events  # a late acknowledgement goes along
    resumed = SagaInput.model_validate(new_input)
    assert resumed.resume is not None and resumed.resume.attempt == ROUNDS + 1
    stock = next(step for step in resumed.resume.steps if step.name == "reserve_stock")
    assert (stock.state, stock.compensation_attempts) == ("compensating", ROUNDS)

    # The next execution sends the next attempt at once, and ends on its acknowledgement.
    after = SagaRun(resumed)
    assert after.commands() == [("stock", "release")]
    assert after.command_bodies()[0]["attempt"] == ROUNDS + 1
    after.reply("stock", "release")
    assert (after.result["status"], after.result["reason"]) == ("rejected", "no_courier_available")


def test_a_compensation_refused_by_mistake_is_asked_again(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve", ok=False, reason="no_courier_available")
    run.reply("stock", "release", ok=False, reason="oops")

    run.elapse(COMPENSATION_FIRST)
    assert run.commands().count(("stock", "release")) == 2
    run.reply("stock", "release")
    assert run.finished


def test_a_duplicate_acknowledgement_is_harmless(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve", ok=False, reason="no_courier_available")
    run.elapse(COMPENSATION_FIRST)  # re-sent; both sends get answered
    run.reply("stock", "release")
    run.reply("stock", "release")

    assert run.result["status"] == "rejected"


def test_commands_that_cannot_be_sent_count_as_timeouts(start_saga):
    run = start_saga(failing={RECORD_AND_SEND: 1})  # retries ran out: neither reserve surely left

    # Either may have gone out before the failure, so both are released.
    assert run.commands()[2:] == [("stock", "release"), ("delivery", "release")]
    assert run.step_states()["reserve_stock"] == "compensating"
    run.reply("stock", "release")
    run.reply("delivery", "release")
    assert run.result["reason"] == "step_timeout"


def test_a_compensation_that_cannot_be_published_is_sent_next_round(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.ctx.failing[RECORD_AND_SEND] = 1
    run.reply("delivery", "reserve", ok=False, reason="no_courier_available")
    run.elapse(COMPENSATION_FIRST)

    assert run.commands().count(("stock", "release")) == 2
    run.reply("stock", "release")
    assert run.finished


def test_activities_retry_transient_failures_with_a_bounded_interval(start_saga):
    run = start_saga()

    for call in run.ctx.activities:
        assert call.retry_policy in (RETRY_BRIEFLY, RETRY_PATIENTLY)
    for policy in (RETRY_BRIEFLY, RETRY_PATIENTLY):
        assert policy.max_retry_interval is not None  # python-sdk#836
        assert policy.max_number_of_attempts > 1


def test_logs_nothing_while_replaying(start_saga, caplog):
    run = start_saga()
    run.ctx.is_replaying = True
    caplog.clear()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve")
    run.reply("billing", "charge")

    assert not [r for r in caplog.records if r.name == "order_app.workflow.saga"]


def test_the_backoff_stays_at_its_cap_however_long_a_compensation_goes_unanswered():
    timeouts = SagaTimeouts(
        step=STEP_TIMEOUT, compensation_first=COMPENSATION_FIRST, compensation_max=COMPENSATION_MAX
    )

    assert [timeouts.compensation_wait(n) for n in (1, 2, 3, 4)] == [
        COMPENSATION_FIRST,
        COMPENSATION_FIRST * 2,
        COMPENSATION_MAX,
        COMPENSATION_MAX,
    ]
    assert timeouts.compensation_wait(10_000) == COMPENSATION_MAX  # no overflow after days of re-sends


def test_an_outcome_the_store_will_not_take_is_recorded_after_continuing_as_new(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.ctx.records_granted = False  # the store went away after the charge was granted
    run.reply("delivery", "reserve")
    run.ctx.failing[RECORD_AND_SEND] = 1  # and the final record's retries all fail
    run.reply("billing", "charge")

    assert run.ctx.continued is not None and not run.finished
    new_input, _ = run.ctx.continued
    resumed = SagaInput.model_validate(new_input)
    assert resumed.resume is not None and resumed.resume.outcome is not None
    assert resumed.resume.outcome.status == "completed"

    # The next execution sends nothing and charges nothing again: it records the outcome.
    after = SagaRun(resumed)
    assert after.commands() == []
    assert [s["outcome"]["status"] for s in after.snapshots()] == ["completed"]
    assert after.result is not None and after.result["status"] == "completed"


def test_a_rejection_is_recorded_after_continuing_as_new_without_compensating_again(start_saga):
    run = start_saga()
    run.reply("stock", "reserve", ok=False, reason="insufficient_stock")
    run.reply("delivery", "reserve")
    run.ctx.failing[RECORD_AND_SEND] = 1
    run.reply("delivery", "release")

    resumed = SagaInput.model_validate(run.ctx.continued[0])
    after = SagaRun(resumed)
    assert after.commands() == []  # the courier was released already
    assert (after.result["status"], after.result["reason"]) == ("rejected", "insufficient_stock")


def test_an_outcome_whose_record_is_gone_fails_the_saga_instead_of_retrying(start_saga):
    run = start_saga()
    run.reply("stock", "reserve")
    run.ctx.records_granted = False
    run.reply("delivery", "reserve")
    run.ctx.fail_with[RECORD_AND_SEND] = NonRetryableError("order 7 does not exist")

    with pytest.raises(TaskFailedError):
        run.reply("billing", "charge")
    assert run.ctx.continued is None


def test_a_charge_found_recorded_after_its_answer_was_lost_completes_the_order(start_saga):
    # A run of the charge's activity recorded the grant, but the saga never got its answer:
    # the compensating activity finds the order completed, and sends nothing.
    found = {"status": "completed", "reason": None, "message": "The order is completed."}
    run = start_saga()
    run.reply("stock", "reserve")
    run.reply("delivery", "reserve")
    run.ctx.found_completed = found
    run.elapse(STEP_TIMEOUT)  # no answer by the deadline

    assert run.result == found and run.ctx.custom_status == "completed"
    assert len(run.ctx.activities) == 3  # no record of a rejection follows
    assert run.ctx.waiting == {}  # and no acknowledgement is awaited
