"""The delivery-commands subscription, driven by CloudEvents as the sidecar delivers them."""

import asyncio
from datetime import UTC, datetime

from dapr_helpers.saga.contract import ReleaseCourier, ReserveCourier


def test_reserve_books_a_courier_and_publishes_ok_reply(client, send, publisher, order_id, slot):
    assert send({"order_id": order_id, "action": "reserve", "slot_start": slot}) == {"status": "SUCCESS"}
    [reply] = publisher.on("order-replies")
    assert (reply["order_id"], reply["participant"], reply["action"], reply["ok"]) == (
        order_id,
        "delivery",
        "reserve",
        True,
    )
    [booking] = client.get("/delivery").json()
    assert (booking["id_order"], booking["dtime"], booking["courier"]) == (order_id, slot, "courier-1")


def test_second_order_for_the_same_slot_finds_no_courier(client, send, publisher, new_order_id, slot):
    first, second = new_order_id(), new_order_id()
    send({"order_id": first, "action": "reserve", "slot_start": slot})
    send({"order_id": second, "action": "reserve", "slot_start": slot})
    replies = publisher.on("order-replies")
    assert (replies[1]["ok"], replies[1]["reason"]) == (False, "no_courier_available")
    assert [b["id_order"] for b in client.get("/delivery").json()] == [first]


def test_added_courier_takes_the_second_order(client, send, publisher, new_order_id, slot):
    assert client.post("/delivery/couriers", json={"name": "Bob"}).status_code == 201
    send({"order_id": new_order_id(), "action": "reserve", "slot_start": slot})
    send({"order_id": new_order_id(), "action": "reserve", "slot_start": slot})
    assert all(r["ok"] for r in publisher.on("order-replies"))
    assert sorted(b["courier"] for b in client.get("/delivery").json()) == ["courier-1", "courier-2"]


def test_duplicate_reserve_republishes_the_same_reply_and_books_once(client, send, publisher, order_id, slot):
    command = {"order_id": order_id, "action": "reserve", "slot_start": slot}
    send(command)
    send(command | {"attempt": 2})
    first, second = publisher.on("order-replies")
    assert first == second
    assert len(client.get("/delivery").json()) == 1


def test_release_frees_the_slot_and_is_idempotent(client, send, publisher, order_id, slot):
    send({"order_id": order_id, "action": "reserve", "slot_start": slot})
    send({"order_id": order_id, "action": "release"})
    send({"order_id": order_id, "action": "release"})
    replies = publisher.on("order-replies")
    assert replies[1] == replies[2] and replies[1]["details"] == {"courier": "courier-1"}
    # Listed as its record says now; the slot's courier is free again.
    [listed] = client.get("/delivery").json()
    assert (listed["id_order"], listed["courier"], listed["status"]) == (order_id, "courier-1", "released")
    assert client.get(f"/delivery/bookings/{order_id}").json()["status"] == "released"
    assert client.get(f"/delivery/slots/{slot}").json()["free_couriers"] == ["courier-1"]


def test_refuses_reserve_after_its_release_arrived_first(client, send, publisher, order_id, slot):
    send({"order_id": order_id, "action": "release"})
    send({"order_id": order_id, "action": "reserve", "slot_start": slot})
    release, reserve = publisher.on("order-replies")
    assert release["ok"]
    assert (reserve["ok"], reserve["reason"]) == (False, "order_cancelled")
    assert client.get("/delivery").json() == []


def test_slot_start_inside_the_hour_books_that_hours_slot(client, send, order_id):
    send({"order_id": order_id, "action": "reserve", "slot_start": "2031-02-03 10:45:00"})
    assert client.get("/delivery").json()[0]["dtime"] == "2031-02-03T10:00:00Z"


def test_malformed_command_is_dropped_and_changes_nothing(send, store, publisher, order_id):
    for bad in [
        {"order_id": order_id, "action": "reserve", "slot_start": "tomorrow"},
        {"order_id": order_id, "action": "reserve"},
        {"order_id": order_id, "action": "cancel"},
        {"action": "release"},
        [1, 2],
    ]:
        assert send(bad) == {"status": "DROP"}
    assert store.data == {} and publisher.published == []


def test_publish_failure_asks_for_retry_and_redelivery_publishes_stored_reply(
    client, send, publisher, order_id, slot
):
    publisher.failures = 1
    command = {"order_id": order_id, "action": "reserve", "slot_start": slot}
    assert send(command) == {"status": "RETRY"}
    assert send(command) == {"status": "SUCCESS"}
    assert len(publisher.on("order-replies")) == 1
    assert len(client.get("/delivery").json()) == 1


async def test_concurrent_reserves_for_one_slot_book_each_courier_once(
    commands, store, new_order_id, slot, slots_add_up
):
    for name in ("Bob", "Cid"):
        await commands.couriers.add(name)
    store.forced_conflicts = 10
    start = datetime.fromisoformat(slot)
    reserves = [
        ReserveCourier(order_id=new_order_id(), action="reserve", slot_start=start) for _ in range(12)
    ]
    replies = await asyncio.gather(*(commands.handle(c) for c in reserves))
    assert sum(r.ok for r in replies) == 3
    assert {r.reason for r in replies if not r.ok} == {"no_courier_available"}
    page = await commands.couriers.bookings(limit=20)
    assert sorted(b.courier for b in page.bookings) == ["courier-1", "courier-2", "courier-3"]
    assert {b.order_id for b in page.bookings} == {r.order_id for r in replies if r.ok}
    slots_add_up(store, couriers=3)


async def test_concurrent_reserve_and_release_of_one_order_never_leak_a_courier(
    commands, store, new_order_id, slot, slots_add_up
):
    start = datetime.fromisoformat(slot)
    for _ in range(10):
        oid = new_order_id()
        await asyncio.gather(
            commands.handle(ReserveCourier(order_id=oid, action="reserve", slot_start=start)),
            commands.handle(ReleaseCourier(order_id=oid, action="release")),
        )
    page = await commands.couriers.bookings(limit=20)
    assert all(b.status == "released" for b in page.bookings)
    assert (await commands.couriers.slot(start)).bookings == {}
    slots_add_up(store, couriers=1)


async def test_many_orders_over_few_slots_keep_courier_slots_adding_up(commands, store, slots_add_up):
    """Interleaved reserves, releases, duplicates and early releases, under forced conflicts."""
    await commands.couriers.add("Bob")
    starts = [datetime(2031, 4, 1, h, tzinfo=UTC) for h in range(4)]
    store.forced_conflicts = 25
    batch: list[ReserveCourier | ReleaseCourier] = []
    for n in range(60):
        oid = 7_000 + n
        reserve = ReserveCourier(order_id=oid, action="reserve", slot_start=starts[n % 4])
        release = ReleaseCourier(order_id=oid, action="release")
        batch += {0: [reserve], 1: [reserve, release], 2: [release, reserve], 3: [reserve, reserve]}[n % 4]  # type: ignore[arg-type]
        if n % 3 == 2:
            batch.append(ReleaseCourier(order_id=oid - 2, action="release"))
    await asyncio.gather(*(commands.handle(c) for c in batch))
    statuses = {v["status"] for k, (v, _) in store.data.items() if k.startswith("booking:")}
    assert statuses == {"booked", "released", "refused", "cancelled"} and store.forced_conflicts == 0
    slots_add_up(store, couriers=2)


async def test_each_command_costs_one_read_and_one_transaction(store, publisher, new_order_id, slot):
    """A release of a booking reads the slot in a second read: the booking names it. (The first
    booking on a store reads v1's `slots` too, once: see test_migration.)"""
    from delivery_app.adapters.repository import DeliveryRepository
    from delivery_app.service.commands import CommandService
    from delivery_app.service.couriers import CourierService
    from saga_testkit.dapr import CountingStore

    counting = CountingStore(store)
    repo = DeliveryRepository(counting)
    commands = CommandService(repo, CourierService(repo, ["Ann"]), publisher, "order-replies")
    start = datetime.fromisoformat(slot)
    await commands.handle(ReserveCourier(order_id=new_order_id(), action="reserve", slot_start=start))
    counting.counted()
    await commands.couriers.add("Bob")
    assert counting.counted() == {"get_json": 1, "transact": 1}

    booked, cancelled = new_order_id(), new_order_id()
    reserve = ReserveCourier(order_id=booked, action="reserve", slot_start=start)
    await commands.handle(reserve)
    assert counting.counted() == {"bulk_get_json": 1, "transact": 1}
    await commands.handle(reserve)  # a duplicate: the stored outcome, nothing written
    assert counting.counted() == {"bulk_get_json": 1}
    await commands.handle(ReserveCourier(order_id=new_order_id(), action="reserve", slot_start=start))
    assert counting.counted() == {"bulk_get_json": 1, "transact": 1}  # refused: its outcome is kept
    await commands.handle(ReleaseCourier(order_id=cancelled, action="release"))  # nothing booked
    assert counting.counted() == {"get_json": 1, "transact": 1}
    await commands.handle(ReleaseCourier(order_id=booked, action="release"))
    assert counting.counted() == {"get_json": 2, "transact": 1}
    assert (await commands.couriers.slot(start)).free(["courier-1", "courier-2"]) == ["courier-2"]
