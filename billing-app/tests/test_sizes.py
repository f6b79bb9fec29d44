"""No record that a charge, refund or refill writes grows with the number of orders."""

import json
import logging
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from billing_app.adapters.records import entry_to_json
from billing_app.adapters.repository import CHUNK_SIZE, BillingRepository
from billing_app.domain.account import Entry
from billing_app.service.accounts import AccountService
from billing_app.service.commands import CommandService
from dapr_helpers.saga.contract import ChargePayment, RefundPayment
from dapr_helpers.state import Delete
from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher

LIMIT = 4096


def _kind(key: str) -> str:
    """account:ann, payment:17, payments:ann (the listing's head), payments:ann/3 (a sealed chunk)."""
    return key.split(":")[0] + ("/chunk" if "/" in key else "")


def _record_sizes(store: InMemoryStateStore) -> dict[str, int]:
    """The largest value written so far, by kind of record; kept up to date as `store` is written."""
    largest: dict[str, int] = defaultdict(int)
    transact = store.transact

    async def recording(ops: Any) -> None:
        await transact(ops)
        for op in ops:
            if not isinstance(op, Delete):
                largest[_kind(op.key)] = max(largest[_kind(op.key)], len(json.dumps(op.value)))

    store.transact = recording  # type: ignore[method-assign]
    return largest


async def test_records_stay_the_same_size_over_ten_thousand_operations(caplog):
    caplog.set_level(logging.WARNING, "billing_app")  # not 10,000 log lines
    store = InMemoryStateStore()
    largest = _record_sizes(store)
    repo = BillingRepository(store)
    accounts, commands = AccountService(repo), CommandService(repo, RecordingPublisher(), "order-replies")
    logins = [f"login-{n}" for n in range(5)]
    for login in logins:
        await accounts.register(login)
        await accounts.refill(login, Decimal(1000))

    expected: dict[str, Counter[str]] = defaultdict(Counter)
    operations, n = 0, 0
    while operations < 10_000:
        n += 1
        login, order_id, turn = logins[n % len(logins)], 1_000_000 + n, n // len(logins)
        await commands.handle(ChargePayment(order_id=order_id, action="charge", login=login, amount="1.10"))
        operations += 1
        expected[login]["charge"] += 1
        if turn % 3 == 0:
            await commands.handle(RefundPayment(order_id=order_id, action="refund"))
            operations += 1
            expected[login]["refund"] += 1
        if turn % 10 == 0:
            await accounts.refill(login, Decimal(11))
            operations += 1
        if operations in (1_000, 1_001, 1_002):
            after_a_thousand = dict(largest)

    assert largest.keys() == {"account", "payment", "payments", "payments/chunk"}
    for kind, size in largest.items():
        # A running total may gain a digit (220.00 → 2200.00); nothing grows by an entry per order.
        assert size <= after_a_thousand[kind] + 8, (kind, after_a_thousand[kind], size)
    assert max(largest.values()) < LIMIT, largest

    for login in logins:  # and money still adds up
        account = await accounts.get(login)
        listed = await repo.index.all(f"payments:{login}")
        assert account.adds_up() and account.balance > 0  # every charge was taken
        assert Counter(e["kind"] for e in listed) == expected[login]
        assert account.charged == sum(Decimal(e["amount"]) for e in listed if e["kind"] == "charge")
        assert account.refunded == sum(Decimal(e["amount"]) for e in listed if e["kind"] == "refund")


def test_a_chunk_of_the_largest_possible_entries_stays_under_4_kb():
    worst = Entry("refund", Decimal("999999999999.99"), -(2**63), "2030-12-31T23:59:59Z")
    assert len(json.dumps([entry_to_json(worst)] * CHUNK_SIZE)) < LIMIT
    head = {"count": 2**63, "tail": [entry_to_json(worst)] * (CHUNK_SIZE - 1)}
    assert len(json.dumps(head)) < LIMIT
