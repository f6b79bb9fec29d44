"""A store written by v1 (products embedding `reservations: {order_id: units}`) keeps working.

`fixtures/v1_store.json` was dumped from the v1 service layer: product 1 (10 registered,
4 restocked) with orders 101 (3 units) and 105 (1) holding units, 102 released, 103
refused, 106 cancelled; product 2 (5 units) all held by order 104; 107 refused (unknown).
"""

import json
from pathlib import Path

import pytest

V1 = json.loads((Path(__file__).parent / "fixtures" / "v1_store.json").read_text())


@pytest.fixture
def v1(store):
    for key, value in V1.items():
        store.data[key] = (value, f"v1-{key}")
    return store


def _held(client, pid):
    return [
        (r["order_id"], r["quantity"], r["status"]) for r in client.get(f"/stock/{pid}/reservations").json()
    ]


def _counts(client, pid):
    p = client.get(f"/stock/{pid}").json()
    assert p["quantity"] + p["reserved"] == p["registered"] + p["restocked"]
    return p["quantity"], p["reserved"], p["registered"], p["restocked"]


def test_reads_a_v1_store_without_writing_it(v1, client):
    assert _counts(client, 1) == (10, 4, 10, 4)
    assert _counts(client, 2) == (0, 5, 5, 0)
    assert [p["id"] for p in client.get("/stock").json()] == [1, 2]
    resp = client.get("/stock/1/reservations")
    assert resp.json() == [
        {"order_id": 105, "quantity": 1, "status": "reserved", "reserved": 1},
        {"order_id": 101, "quantity": 3, "status": "reserved", "reserved": 3},
    ]
    assert resp.headers["X-Total-Count"] == "2"
    assert client.get("/stock/1/reservations", params={"limit": 1}).headers["Link"] == (
        '</stock/1/reservations?limit=1&before=1>; rel="next"'
    )
    statuses = [client.get(f"/stock/reservations/{o}").json()["status"] for o in range(101, 108)]
    assert statuses == ["reserved", "released", "refused", "reserved", "reserved", "cancelled", "refused"]
    assert v1.snapshot() == V1


def test_the_next_writes_move_a_v1_product_to_counts_and_its_index(v1, client, send):
    send({"order_id": 108, "action": "reserve", "product_id": 1, "quantity": 2})
    assert "reservations" not in v1.data["product:1"][0]
    assert v1.data["product:1"][0]["reserved"] == 6
    assert _held(client, 1) == [(108, 2, "reserved"), (105, 1, "reserved"), (101, 3, "reserved")]

    send({"order_id": 101, "action": "release"})  # units the v1 record held come back
    assert _counts(client, 1) == (11, 3, 10, 4)
    assert _held(client, 1) == [(108, 2, "reserved"), (105, 1, "reserved"), (101, 0, "released")]

    assert client.post("/stock/2/restock", json={"quantity": 1}).json()["quantity"] == 1
    assert "reservations" not in v1.data["product:2"][0]
    assert _held(client, 2) == [(104, 5, "reserved")]
    send({"order_id": 104, "action": "release"})
    assert _counts(client, 2) == (6, 0, 5, 1)

    before = v1.snapshot()
    send({"order_id": 102, "action": "release"})  # released under v1: its stored outcome, no change
    send({"order_id": 103, "action": "reserve", "product_id": 1, "quantity": 100})
    assert v1.snapshot() == before
