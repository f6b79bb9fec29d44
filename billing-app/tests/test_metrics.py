"""Billing's commands in `saga_commands_total`, as its subscription handles them."""

from dapr_helpers.metrics import sample
from prometheus_client.parser import text_string_to_metric_families

RESULTS = [
    ("charge", "done"),
    ("charge", "refused"),
    ("charge", "replayed"),
    ("refund", "done"),
    ("unknown", "malformed"),
]


def counts() -> dict[tuple[str, str], float]:
    labels = [{"participant": "billing", "action": a, "result": r} for a, r in RESULTS]
    return {(a["action"], a["result"]): sample("saga_commands_total", a) for a in labels}


def test_each_delivery_is_counted_by_action_and_result(send, funded, new_order_id, client):
    login = funded(10)
    paid, short = new_order_id(), new_order_id()
    before = counts()
    charge = {"action": "charge", "login": login, "amount": "8"}
    send({"order_id": paid, **charge})
    send({"order_id": paid, **charge, "attempt": 2})  # a re-send: the stored outcome again
    send({"order_id": short, **charge})  # 2 left: insufficient funds
    send({"order_id": paid, "action": "refund"})
    assert send({"order_id": paid, "action": "charge"}) == {"status": "DROP"}  # no login, no amount
    after = counts()
    assert {k: after[k] - before[k] for k in RESULTS} == {
        ("charge", "done"): 1,
        ("charge", "refused"): 1,
        ("charge", "replayed"): 1,
        ("refund", "done"): 1,
        ("unknown", "malformed"): 1,
    }
    served = text_string_to_metric_families(client.get("/metrics").text)
    [commands] = [f for f in served if f.name == "saga_commands"]
    labels = {"participant": "billing", "action": "charge", "result": "done"}
    assert [s.value for s in commands.samples if s.labels == labels] == [after[("charge", "done")]]
