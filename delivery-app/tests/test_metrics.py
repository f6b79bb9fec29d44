"""Delivery's commands in `saga_commands_total`, as its subscription handles them."""

from dapr_helpers.metrics import sample


def count(action: str, result: str) -> float:
    return sample("saga_commands_total", {"participant": "delivery", "action": action, "result": result})


def test_each_delivery_is_counted_by_action_and_result(send, slot, new_order_id):
    first, second = new_order_id(), new_order_id()
    keys = [("reserve", "done"), ("reserve", "refused"), ("reserve", "replayed"), ("release", "done")]
    before = {k: count(*k) for k in keys}
    send({"order_id": first, "action": "reserve", "slot_start": slot})
    send({"order_id": first, "action": "reserve", "slot_start": slot})  # a duplicate delivery
    send({"order_id": second, "action": "reserve", "slot_start": slot})  # the slot's one courier is taken
    send({"order_id": second, "action": "release"})  # nothing to release: a tombstone, still done
    assert {k: count(*k) - before[k] for k in keys} == {
        ("reserve", "done"): 1,
        ("reserve", "refused"): 1,
        ("reserve", "replayed"): 1,
        ("release", "done"): 1,
    }
