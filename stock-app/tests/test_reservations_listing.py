"""`GET /stock/{id}/reservations`: paged, newest first, each order as its reservation record says now."""

import asyncio
import random

import pytest
from dapr_helpers.saga.contract import ReleaseStock, ReserveStock
from stock_app.adapters.repository import StockRepository
from stock_app.service.products import ProductService


def _reserve(order_id, pid, quantity=1):
    return {"order_id": order_id, "action": "reserve", "product_id": pid, "quantity": quantity}


def test_one_success_and_rejected_orders_leave_one_order_holding_units(client, send, product, new_order_id):
    """The Postman run's story: what the rejected orders reserved shows `released`, holding 0;
    a refused reserve is not listed. Keeping the `reserved` entries gives [{order_id, quantity: 1}]."""
    pid = product(100)
    success, money, units, courier = (new_order_id() for _ in range(4))
    send(_reserve(success, pid))
    send(_reserve(money, pid))
    send({"order_id": money, "action": "release"})  # the payment was refused
    send(_reserve(units, pid, 1000))  # refused: not enough units
    send({"order_id": units, "action": "release"})
    send({"order_id": courier, "action": "release"})  # the courier's refusal overtook the reserve
    send(_reserve(courier, pid))
    resp = client.get(f"/stock/{pid}/reservations")
    assert resp.json() == [
        {"order_id": money, "quantity": 0, "status": "released", "reserved": 1},
        {"order_id": success, "quantity": 1, "status": "reserved", "reserved": 1},
    ]
    held = [{"order_id": r["order_id"], "quantity": r["quantity"]} for r in resp.json() if r["quantity"]]
    assert held == [{"order_id": success, "quantity": 1}]
    assert [r for r in resp.json() if r["status"] == "reserved"] == [resp.json()[1]]
    assert client.get(f"/stock/{pid}").json()["quantity"] == 99


def test_pages_walk_newest_first_following_the_link(client, send, product, new_order_id):
    pid = product(100)
    orders = [new_order_id() for _ in range(45)]
    for oid in orders:
        send(_reserve(oid, pid))
    seen, url = [], f"/stock/{pid}/reservations"
    links = []
    while url:
        resp = client.get(url)
        assert resp.headers["X-Total-Count"] == "45"
        seen += [r["order_id"] for r in resp.json()]
        url = resp.links.get("next", {}).get("url")
        links.append(url)
    assert seen == orders[::-1]
    assert links == [
        f"/stock/{pid}/reservations?limit=20&before=25",
        f"/stock/{pid}/reservations?limit=20&before=5",
        None,
    ]
    resp = client.get(f"/stock/{pid}/reservations", params={"limit": 2, "before": 3})
    assert [r["order_id"] for r in resp.json()] == [orders[2], orders[1]]
    assert resp.headers["Link"] == f'</stock/{pid}/reservations?limit=2&before=1>; rel="next"'


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"before": -1}])
def test_refuses_a_limit_or_cursor_out_of_range(client, product, params):
    resp = client.get(f"/stock/{product(1)}/reservations", params=params)
    assert (resp.status_code, resp.json()["code"]) == (422, "validation_error")


def test_reservations_of_an_unknown_product_are_404(client):
    resp = client.get("/stock/999999/reservations")
    assert (resp.status_code, resp.json()["code"]) == (404, "unknown_product")


def test_an_empty_listing_is_one_empty_page(client, product):
    resp = client.get(f"/stock/{product(1)}/reservations")
    assert (resp.json(), resp.headers["X-Total-Count"], "Link" in resp.headers) == ([], "0", False)


async def test_units_always_add_up_through_races_conflicts_and_duplicates(commands, store, new_order_id):
    """Reserves, releases and redeliveries in any interleaving, with forced ETag conflicts:
    available + reserved == registered + restocked, and the units the listing shows held
    are the product's `reserved`, each held by an order whose record says `reserved`."""
    products = ProductService(StockRepository(store))
    pid = (await products.register("contended", 40, None)).id
    rng = random.Random(16)
    orders = [new_order_id() for _ in range(60)]
    commands_: list[ReserveStock | ReleaseStock] = []
    for oid in orders:
        commands_.append(
            ReserveStock(order_id=oid, action="reserve", product_id=pid, quantity=rng.randint(1, 3))
        )
        if rng.random() < 0.5:
            commands_.append(ReleaseStock(order_id=oid, action="release"))
    commands_ += rng.sample(commands_, 20)  # redeliveries
    rng.shuffle(commands_)
    store.forced_conflicts = 15
    for batch in range(0, len(commands_), 10):
        await asyncio.gather(*(commands.handle(c) for c in commands_[batch : batch + 10]))
    await products.restock(pid, 7)

    product = await products.get(pid)
    assert product.balanced and product.registered + product.restocked == 47
    page = await products.reservations(pid, 100)
    assert sum(r.held for r in page.entries) == product.reserved
    assert len({r.order_id for r in page.entries}) == len(page.entries) == page.total
    statuses = set()
    for oid in orders:
        record = await products.reservation(oid)
        assert record is not None
        statuses.add(record.status)
        listed = any(r.order_id == oid for r in page.entries)
        assert listed == (record.status in ("reserved", "released")), record
    assert statuses == {"reserved", "released", "refused", "cancelled"}  # every path was taken
