"""A store written by the previous version (v1) is read as it was, and moved on the next booking.

fixtures/v1_store.json is `InMemoryStateStore.snapshot()` after the v1 code (commit 809d8a9)
handled, with the couriers "Courier 1" and "Bob" (added): reserve 101, 102 (10:00, both
couriers), 103 (10:00, refused), 104 (11:00) then its release, 105 (12:00 next day), a
release of 106 then its reserve (cancelled), and 107 (11:00). v1 kept a `slots` record,
every slot ever booked, in place of the bookings index.
"""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dapr_helpers.saga.contract import ReserveCourier
from saga_testkit.dapr import InMemoryStateStore

V1 = json.loads((Path(__file__).parent / "fixtures" / "v1_store.json").read_text())
TEN = "2031-03-01T10:00:00Z"
ELEVEN = "2031-03-01T11:00:00Z"


@pytest.fixture
def v1(store: InMemoryStateStore) -> InMemoryStateStore:
    store.data = {key: (value, str(n)) for n, (key, value) in enumerate(V1.items(), start=1)}
    store._version = len(store.data)  # new ETags never repeat a loaded one
    return store


def listed(client, **params) -> list[tuple[int, str, str, str]]:
    resp = client.get("/delivery", params=params)
    assert resp.status_code == 200, resp.text
    return [(b["id_order"], b["dtime"], b["courier"], b["status"]) for b in resp.json()]


def test_a_v1_store_reads_as_before(client, v1):
    assert listed(client) == [
        (107, ELEVEN, "courier-1", "booked"),
        (105, "2031-03-02T12:00:00Z", "courier-1", "booked"),
        (102, TEN, "courier-2", "booked"),
        (101, TEN, "courier-1", "booked"),
    ]
    resp = client.get("/delivery", params={"limit": 3})
    assert resp.headers["X-Total-Count"] == "4" and resp.links["next"]["url"] == "/delivery?limit=3&before=1"
    assert [b["id_order"] for b in client.get(resp.links["next"]["url"]).json()] == [101]
    slot = client.get(f"/delivery/slots/{TEN}").json()
    assert (slot["free_couriers"], slot["bookings"]) == ([], {"courier-1": 101, "courier-2": 102})
    assert client.get(f"/delivery/slots/{ELEVEN}").json()["free_couriers"] == ["courier-2"]
    assert [c["name"] for c in client.get("/delivery/couriers").json()] == ["Courier 1", "Bob"]
    statuses = {i: client.get(f"/delivery/bookings/{i}").json()["status"] for i in range(101, 108)}
    assert statuses == {
        101: "booked",
        102: "booked",
        103: "refused",
        104: "released",
        105: "booked",
        106: "cancelled",
        107: "booked",
    }


def test_the_next_booking_moves_v1_into_the_index_and_keeps_working(
    client, send, publisher, v1, slots_add_up
):
    send({"order_id": 101, "action": "reserve", "slot_start": TEN, "attempt": 2})  # a redelivery
    [again] = publisher.on("order-replies")
    assert again["ok"] and again["details"] == {"courier": "courier-1", "slot_start": TEN}
    assert "slots" in v1.data and "bookings" not in v1.data  # nothing booked: nothing moved yet

    send({"order_id": 108, "action": "reserve", "slot_start": ELEVEN})
    assert "slots" not in v1.data
    assert v1.data["bookings"][0] == {"count": 5, "tail": [101, 102, 105, 107, 108]}
    slots_add_up(v1, couriers=2, unindexed=frozenset({104}))

    send({"order_id": 102, "action": "release"})
    send({"order_id": 109, "action": "reserve", "slot_start": TEN})
    assert [r["ok"] for r in publisher.on("order-replies")] == [True] * 4
    assert listed(client) == [
        (109, TEN, "courier-2", "booked"),
        (108, ELEVEN, "courier-2", "booked"),
        (107, ELEVEN, "courier-1", "booked"),
        (105, "2031-03-02T12:00:00Z", "courier-1", "booked"),
        (102, TEN, "courier-2", "released"),
        (101, TEN, "courier-1", "booked"),
    ]
    slots_add_up(v1, couriers=2, unindexed=frozenset({104}))


async def test_concurrent_first_bookings_move_v1_once(commands, v1, slots_add_up):
    assert [c.name for c in await commands.couriers.roster()] == ["Courier 1", "Bob"]
    starts = [datetime(2031, 3, 5, h, tzinfo=UTC) for h in range(6)]
    replies = await asyncio.gather(
        *(
            commands.handle(ReserveCourier(order_id=200 + n, action="reserve", slot_start=s))
            for n, s in enumerate(starts)
        )
    )
    assert all(r.ok for r in replies)
    page = await commands.couriers.bookings(limit=100)
    assert sorted(b.order_id for b in page.bookings) == [101, 102, 105, 107, *range(200, 206)]
    assert page.bookings[-4:] == [b for b in page.bookings if b.order_id < 200]  # v1's come first, oldest
    slots_add_up(v1, couriers=2, unindexed=frozenset({104}))
