"""A store written by the previous version (accounts embedding their whole history) keeps working.

`fixtures/v1_store.json` was dumped from the committed v1 service layer after: ann refilled
100 and 50.25, charged for orders 1, 2 (refunded), 7-11 (9 refunded), 4 refused (refunded
first); bob refilled 10, refused for 3, charged 10 for 5; cid never used; 6 for a ghost.
"""

import json
from decimal import Decimal
from pathlib import Path

import pytest

V1 = json.loads((Path(__file__).parent / "fixtures" / "v1_store.json").read_text())
ANN_LISTED = [("refund", 9), ("charge", 11), ("charge", 10), ("charge", 9), ("charge", 8), ("charge", 7)]
ANN_LISTED += [("refund", 2), ("charge", 2), ("charge", 1)]


@pytest.fixture
def v1(store):
    store.data = {key: (value, f"v1-{n}") for n, (key, value) in enumerate(V1.items())}
    return store


def _listing(client, login, **params):
    resp = client.get(f"/billing/account/{login}/payments", params=params)
    assert resp.status_code == 200, resp.text
    return [(p["kind"], p["order_id"]) for p in resp.json()], resp.headers


def _adds_up(client, store, login):
    """The record's totals explain its balance, and the listing explains what the orders moved."""
    record = store.data[f"account:{login}"][0]
    balance, refilled = Decimal(record["balance"]), Decimal(record["refilled"])
    assert balance == refilled - Decimal(record["charged"]) + Decimal(record["refunded"])
    moved = sum(
        Decimal(str(p["amount"])) * (1 if p["kind"] == "refund" else -1)
        for p in client.get(f"/billing/account/{login}/payments", params={"limit": 100}).json()
    )
    assert balance == refilled + moved
    assert Decimal(str(client.get(f"/billing/account/{login}").json()["balance"])) == balance


def test_reads_v1_accounts_and_their_history_without_writing(client, v1):
    before = v1.snapshot()
    balances = {lo: client.get(f"/billing/account/{lo}").json()["balance"] for lo in ("ann", "bob", "cid")}
    assert balances == {"ann": 115.85, "bob": 0.0, "cid": 0.0}
    listed, headers = _listing(client, "ann")
    assert listed == ANN_LISTED and headers["X-Total-Count"] == "9"
    first, headers = _listing(client, "ann", limit=4)
    assert (
        first == ANN_LISTED[:4]
        and headers["Link"] == '</billing/account/ann/payments?limit=4&before=5>; rel="next"'
    )
    assert _listing(client, "ann", limit=4, before=5)[0] == ANN_LISTED[4:8]
    assert _listing(client, "ann", limit=4, before=1)[0] == ANN_LISTED[8:]
    assert _listing(client, "bob")[0] == [("charge", 5)]
    assert _listing(client, "cid")[0] == [] and _listing(client, "cid")[1]["X-Total-Count"] == "0"
    statuses = {n: client.get(f"/billing/payments/{n}").json()["status"] for n in (1, 2, 3, 4, 5, 9)}
    assert statuses == {
        1: "charged",
        2: "refunded",
        3: "refused",
        4: "cancelled",
        5: "charged",
        9: "refunded",
    }
    assert v1.snapshot() == before  # reading migrates nothing


def test_the_next_write_moves_the_history_to_the_listing_and_money_still_adds_up(client, send, v1):
    send({"order_id": 1, "action": "refund"})  # charged by v1: its payment record says so
    assert "history" not in v1.data["account:ann"][0]
    assert v1.data["payments:ann"][0]["count"] == 10
    assert client.get("/billing/account/ann").json()["balance"] == 145.85
    send({"order_id": 12, "action": "charge", "login": "ann", "amount": "5"})
    send({"order_id": 9, "action": "refund"})  # refunded by v1 already: nothing more
    send({"order_id": 2, "action": "refund"})
    listed, headers = _listing(client, "ann")
    assert listed == [("charge", 12), ("refund", 1), *ANN_LISTED] and headers["X-Total-Count"] == "11"
    assert client.get("/billing/account/ann").json()["balance"] == 140.85
    _adds_up(client, v1, "ann")


def test_a_refill_migrates_too_and_an_unused_v1_account_needs_nothing(client, send, v1):
    assert client.post("/billing/refill", json={"login": "bob", "amount": 7}).json()["balance"] == 7.0
    assert "history" not in v1.data["account:bob"][0]
    assert _listing(client, "bob")[0] == [("charge", 5)]
    send({"order_id": 5, "action": "refund"})
    assert _listing(client, "bob")[0] == [("refund", 5), ("charge", 5)]
    _adds_up(client, v1, "bob")
    send({"order_id": 13, "action": "charge", "login": "cid", "amount": "1"})  # refused: no money
    send({"order_id": 14, "action": "charge", "login": "ghost", "amount": "1"})
    assert "history" in v1.data["account:cid"][0]  # nothing moved, nothing written
    client.post("/billing/refill", json={"login": "cid", "amount": 3})
    send({"order_id": 15, "action": "charge", "login": "cid", "amount": "1"})
    assert _listing(client, "cid")[0] == [("charge", 15)]
    _adds_up(client, v1, "cid")
