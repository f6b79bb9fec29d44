"""The stock-commands subscription, driven by CloudEvents as the sidecar delivers them."""

import asyncio

from dapr_helpers.saga.contract import ReserveStock


def _available(client, product_id):
    return client.get(f"/stock/{product_id}").json()["quantity"]


def test_reserve_takes_units_and_publishes_ok_reply(client, send, publisher, product, order_id):
    pid = product(10)
    assert send({"order_id": order_id, "action": "reserve", "product_id": pid, "quantity": 3}) == {
        "status": "SUCCESS"
    }
    assert _available(client, pid) == 7
    [reply] = publisher.on("order-replies")
    assert (reply["order_id"], reply["participant"], reply["action"], reply["ok"]) == (
        order_id,
        "stock",
        "reserve",
        True,
    )
    listed = client.get(f"/stock/{pid}/reservations")
    assert listed.json() == [{"order_id": order_id, "quantity": 3, "status": "reserved", "reserved": 3}]
    assert (listed.headers["X-Total-Count"], "Link" in listed.headers) == ("1", False)


def test_refuses_reserve_beyond_available_and_keeps_stock(client, send, publisher, product, order_id):
    pid = product(2)
    send({"order_id": order_id, "action": "reserve", "product_id": pid, "quantity": 1000})
    assert _available(client, pid) == 2
    assert publisher.on("order-replies")[0]["reason"] == "insufficient_stock"


def test_refuses_reserve_of_unknown_product(send, publisher, order_id):
    send({"order_id": order_id, "action": "reserve", "product_id": 999999, "quantity": 1})
    assert publisher.on("order-replies")[0]["reason"] == "unknown_product"


def test_duplicate_reserve_republishes_the_same_reply_and_reserves_once(
    client, send, publisher, product, order_id
):
    pid = product(10)
    command = {"order_id": order_id, "action": "reserve", "product_id": pid, "quantity": 4}
    send(command)
    send(command | {"attempt": 2})
    assert _available(client, pid) == 6
    first, second = publisher.on("order-replies")
    assert first == second


def test_release_gives_back_the_reservation_and_is_idempotent(client, send, publisher, product, order_id):
    pid = product(10)
    send({"order_id": order_id, "action": "reserve", "product_id": pid, "quantity": 4})
    send({"order_id": order_id, "action": "release"})
    send({"order_id": order_id, "action": "release"})
    assert _available(client, pid) == 10
    replies = publisher.on("order-replies")
    assert replies[1] == replies[2] and replies[1]["details"] == {"released": 4}
    assert client.get(f"/stock/reservations/{order_id}").json()["status"] == "released"
    # The entry stays, as history; the order's record says it holds nothing now.
    assert client.get(f"/stock/{pid}/reservations").json() == [
        {"order_id": order_id, "quantity": 0, "status": "released", "reserved": 4}
    ]


def test_refuses_reserve_after_its_release_arrived_first(client, send, publisher, product, order_id):
    pid = product(10)
    send({"order_id": order_id, "action": "release"})
    send({"order_id": order_id, "action": "reserve", "product_id": pid, "quantity": 4})
    release, reserve = publisher.on("order-replies")
    assert release["ok"] and release["details"] == {"released": 0}
    assert (reserve["ok"], reserve["reason"]) == (False, "order_cancelled")
    assert _available(client, pid) == 10
    assert client.get(f"/stock/{pid}/reservations").json() == []


def test_accepts_assignment_aliases_in_reserve_command(client, send, product, order_id):
    pid = product(5)
    send({"order_id": order_id, "action": "reserve", "id_product": pid, "quntity": 2})
    assert _available(client, pid) == 3


def test_malformed_command_is_dropped_and_changes_nothing(client, send, store, publisher, product, order_id):
    pid = product(5)
    before = store.snapshot()
    for bad in [
        {"order_id": order_id, "action": "reserve", "product_id": pid, "quantity": 0},
        {"order_id": order_id, "action": "reserve", "product_id": pid},
        {"order_id": order_id, "action": "reserve", "product_id": "x", "quantity": 1},
        {"action": "release"},
        {"order_id": order_id, "action": "restock"},
        None,
    ]:
        assert send(bad) == {"status": "DROP"}
    assert store.snapshot() == before
    assert publisher.published == []


def test_publish_failure_asks_for_retry_and_redelivery_publishes_stored_reply(
    client, send, publisher, product, order_id
):
    pid = product(5)
    publisher.failures = 1
    command = {"order_id": order_id, "action": "reserve", "product_id": pid, "quantity": 2}
    assert send(command) == {"status": "RETRY"}
    assert send(command) == {"status": "SUCCESS"}
    assert _available(client, pid) == 3
    assert len(publisher.on("order-replies")) == 1


async def test_twenty_concurrent_reserves_for_five_units_exactly_five_win(commands, store, new_order_id):
    from stock_app.adapters.repository import StockRepository
    from stock_app.service.products import ProductService

    products = ProductService(StockRepository(store))
    pid = (await products.register("last units", 5, None)).id
    store.forced_conflicts = 10
    reserves = [
        ReserveStock(order_id=new_order_id(), action="reserve", product_id=pid, quantity=1) for _ in range(20)
    ]
    replies = await asyncio.gather(*(commands.handle(c) for c in reserves))
    assert sum(r.ok for r in replies) == 5
    assert {r.reason for r in replies if not r.ok} == {"insufficient_stock"}
    product = await products.get(pid)
    assert (product.available, product.reserved) == (0, 5)


async def test_concurrent_reserve_and_release_of_one_order_never_leak_units(commands, store, new_order_id):
    from dapr_helpers.saga.contract import ReleaseStock
    from stock_app.adapters.repository import StockRepository
    from stock_app.service.products import ProductService

    products = ProductService(StockRepository(store))
    pid = (await products.register("race", 50, None)).id
    for _ in range(10):
        oid = new_order_id()
        reserve = ReserveStock(order_id=oid, action="reserve", product_id=pid, quantity=3)
        release = ReleaseStock(order_id=oid, action="release")
        await asyncio.gather(commands.handle(reserve), commands.handle(release))
    # Whichever came first, the release either gave the units back or refused the reserve.
    product = await products.get(pid)
    assert (product.available, product.reserved) == (50, 0)
    page = await products.reservations(pid, 100)
    assert all(r.held == 0 for r in page.entries)


async def test_each_command_costs_one_read_and_one_transaction(store, publisher, new_order_id):
    """A release of a reservation reads the product in a second read: the reservation names it."""
    from dapr_helpers.saga.contract import ReleaseStock
    from saga_testkit.dapr import CountingStore
    from stock_app.adapters.repository import StockRepository
    from stock_app.service.commands import CommandService
    from stock_app.service.products import ProductService

    counting = CountingStore(store)
    repo = StockRepository(counting)
    products, commands = ProductService(repo), CommandService(repo, publisher, "order-replies")
    pid = (await products.register("counted", 5, None)).id
    assert counting.counted() == {"get_json": 1, "transact": 1}
    await products.restock(pid, 1)
    assert counting.counted() == {"bulk_get_json": 1, "transact": 1}

    reserved, cancelled = new_order_id(), new_order_id()
    reserve = ReserveStock(order_id=reserved, action="reserve", product_id=pid, quantity=2)
    await commands.handle(reserve)
    assert counting.counted() == {"bulk_get_json": 1, "transact": 1}
    await commands.handle(reserve)  # a duplicate: the stored outcome, nothing written
    assert counting.counted() == {"bulk_get_json": 1}
    await commands.handle(ReserveStock(order_id=new_order_id(), action="reserve", product_id=pid, quantity=9))
    assert counting.counted() == {"bulk_get_json": 1, "transact": 1}  # refused: its outcome is kept
    await commands.handle(ReleaseStock(order_id=cancelled, action="release"))  # nothing reserved
    assert counting.counted() == {"get_json": 1, "transact": 1}
    await commands.handle(ReleaseStock(order_id=reserved, action="release"))
    assert counting.counted() == {"get_json": 1, "bulk_get_json": 1, "transact": 1}
    assert (await products.get(pid)).available == 6
