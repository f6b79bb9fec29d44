"""Stock's commands in `saga_commands_total`, as its subscription handles them."""

from dapr_helpers.metrics import sample


def count(action: str, result: str) -> float:
    return sample("saga_commands_total", {"participant": "stock", "action": action, "result": result})


def test_each_delivery_is_counted_by_action_and_result(send, product, new_order_id):
    pid = product(1)
    taken, late = new_order_id(), new_order_id()
    keys = [("reserve", "done"), ("reserve", "refused"), ("release", "done"), ("release", "replayed")]
    before = {k: count(*k) for k in keys}
    send({"order_id": taken, "action": "reserve", "product_id": pid, "quantity": 1})
    send({"order_id": late, "action": "reserve", "product_id": pid, "quantity": 1})  # none left
    send({"order_id": taken, "action": "release"})
    send({"order_id": taken, "action": "release"})
    assert {k: count(*k) - before[k] for k in keys} == {
        ("reserve", "done"): 1,
        ("reserve", "refused"): 1,
        ("release", "done"): 1,
        ("release", "replayed"): 1,
    }
