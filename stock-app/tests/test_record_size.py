"""No record on the saga's path grows with the number of orders (issue 16)."""

import json
from collections import defaultdict

from dapr_helpers.saga.contract import ReleaseStock, ReserveStock
from stock_app.adapters.repository import StockRepository
from stock_app.service.products import ProductService


def _largest_by_kind(store) -> dict[str, int]:
    """The largest serialized value of each kind of record: product, reservation, index head, chunk."""
    largest: dict[str, int] = defaultdict(int)
    for key, (value, _) in store.data.items():
        kind = key.split(":")[0] + ("/chunk" if "/" in key else "")
        largest[kind] = max(largest[kind], len(json.dumps(value)))
    return dict(largest)


async def test_records_are_the_same_size_after_ten_thousand_operations_as_after_a_thousand(
    commands, store, new_order_id, caplog
):
    caplog.set_level("WARNING", logger="stock_app.service.commands")  # 10,000 INFO lines cost seconds
    products = ProductService(StockRepository(store))
    pids = [(await products.register(f"p{n}", 1_000_000, None)).id for n in range(3)]
    sizes, ops, n = {}, 0, 0
    while ops < 10_000:  # reserves (one in fifty refused), one order in three then released
        n += 1
        order_id, pid = new_order_id(), pids[n % 3]
        quantity = 10_000_000 if n % 50 == 0 else 1 + n % 3
        steps: list[ReserveStock | ReleaseStock] = [
            ReserveStock(order_id=order_id, action="reserve", product_id=pid, quantity=quantity)
        ]
        if n % 3 == 0:
            steps.append(ReleaseStock(order_id=order_id, action="release"))
        for command in steps:
            await commands.handle(command)
            ops += 1
            if ops in (1_000, 10_000):
                sizes[ops] = (
                    _largest_by_kind(store),
                    {k: len(json.dumps(v)) for k, (v, _) in store.data.items()},
                )

    (kinds_1k, keys_1k), (kinds_10k, keys_10k) = sizes[1_000], sizes[10_000]
    assert (
        set(kinds_1k)
        == set(kinds_10k)
        == {
            "product-seq",
            "product",
            "reservation",
            "product-reservations",
            "product-reservations/chunk",
        }
    )
    for kind, size in kinds_10k.items():  # a counter may gain a digit, nothing more
        assert size - kinds_1k[kind] <= 4, (kind, kinds_1k[kind], size)
    for key, size in keys_1k.items():
        if "/" not in key and key.startswith("product-reservations:"):
            continue  # an index head: its tail fills and empties, bounded by the kind's check above
        assert keys_10k[key] - size <= 4, key
    assert max(kinds_10k.values()) < 4096, kinds_10k
    for pid in pids:
        product = await products.get(pid)
        page = await products.reservations(pid, 100)
        assert product.balanced and page.total > 2_000
