"""The audit: does everything a run did add up? Used by `make bench` and the fault tests.

A driver records in a `Ledger` what it did through the public API (accounts
and their refills, products and the units it added, orders it created, dead
letters it provoked on purpose); `audit()` then reads the system back through
the public API, plus the dead-letter subscriber (`bench.deadletters`), and
lists every rule that does not hold:

- every order is final (`completed` or `rejected`);
- each account: balance = refills - charges + refunds;
- each product: available + reserved by completed orders = registered + restocked,
  its `reserved` is what its listed reservations hold, and no reservation is held
  by anything but a completed order;
- no courier is booked twice in a slot;
- a completed order holds its reservation, booking and charge; a rejected one
  holds none (released, refunded, refused or never taken);
- every message in a dead-letter topic matches a cause the driver injected.

The listings (payments, reservations, bookings) are paged, newest first: the audit
reads every page (`limit=100`, then the `before` cursor of each `rel="next"` Link)
and checks it got `X-Total-Count` entries. A listing without a Link is one page.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

FINAL = ("completed", "rejected")
PAGE = 100  # the listings' largest `limit`


@dataclass(frozen=True)
class ExpectedDeadLetter:
    """A dead letter the driver caused on purpose: its dead-letter topic and a subset of its `data`."""

    topic: str
    data: Mapping[str, Any]
    why: str

    def matches(self, event: Mapping[str, Any]) -> bool:
        data = event.get("data")
        return (
            event.get("deadletter_topic") == self.topic
            and isinstance(data, Mapping)
            and all(data.get(k) == v for k, v in self.data.items())
        )


@dataclass
class Ledger:
    """What a run did, as its driver knows it."""

    refills: dict[str, Decimal] = field(default_factory=dict)
    units_added: dict[int, int] = field(default_factory=dict)
    orders: set[int] = field(default_factory=set)
    dead_letters: list[ExpectedDeadLetter] = field(default_factory=list)
    # CloudEvent ids of dead letters that were there before this run (another run explains them).
    earlier_dead_letters: set[str] = field(default_factory=set)

    def account(self, login: str, refilled: Decimal | int = 0) -> None:
        self.refills[login] = self.refills.get(login, Decimal(0)) + Decimal(refilled)

    def product(self, product_id: int, units: int) -> None:
        self.units_added[product_id] = self.units_added.get(product_id, 0) + units

    def order(self, order_id: int) -> None:
        self.orders.add(order_id)

    def expect_dead_letter(self, topic: str, data: Mapping[str, Any], why: str) -> None:
        self.dead_letters.append(ExpectedDeadLetter(topic, data, why))


@dataclass
class AuditReport:
    problems: list[str]
    orders: dict[int, dict[str, Any]]
    dead_letters: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return f"audit clean: {len(self.orders)} orders, {len(self.dead_letters)} dead letters explained"
        shown = "\n  ".join(self.problems[:50])
        more = f"\n  ... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        return f"audit failed ({len(self.problems)} problems):\n  {shown}{more}"


async def audit(
    base_url: str,
    ledger: Ledger,
    deadletters_url: str | None = None,
    settle_seconds: int = 0,
    concurrency: int = 16,
) -> AuditReport:
    """Check every rule; `settle_seconds` lets pending orders finish first (GET ?wait=)."""
    problems: list[str] = []
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=settle_seconds + 30) as http:

        async def get(path: str, **params: Any) -> httpx.Response:
            async with limit:
                return await http.get(path, params=params)

        async def each(items: Any, fn: Callable[[Any], Awaitable[Any]]) -> list[Any]:
            return list(await asyncio.gather(*(fn(i) for i in items)))

        # Orders first: everything else depends on how each ended.
        async def order(order_id: int) -> tuple[int, httpx.Response]:
            # A 5xx is unavailability, not inconsistency: asked again while the settle time lasts.
            deadline = asyncio.get_running_loop().time() + settle_seconds
            while True:
                r = await get(f"/orders/{order_id}", wait=settle_seconds)
                if r.status_code < 500 or asyncio.get_running_loop().time() >= deadline:
                    return order_id, r
                await asyncio.sleep(0.2)

        orders: dict[int, dict[str, Any]] = {}
        for order_id, r in await each(sorted(ledger.orders), order):
            body = r.json() if r.status_code == 200 else None
            if body is None:
                problems.append(f"order {order_id}: unreadable ({r.status_code} {r.text[:200]})")
            elif body["status"] not in FINAL:
                problems.append(f"order {order_id}: still {body['status']}")
            else:
                orders[order_id] = body
        completed = {i for i, o in orders.items() if o["status"] == "completed"}
        rejected = {i for i, o in orders.items() if o["status"] == "rejected"}

        problems += await _accounts(ledger, get, each, completed, rejected)
        problems += await _products(ledger, get, each, orders, completed)
        problems += await _couriers(get, completed, set(ledger.orders))
        problems += await _per_order(get, each, completed, rejected)

    dead: list[dict[str, Any]] = []
    if deadletters_url is not None:
        async with httpx.AsyncClient(timeout=10) as http:
            dead = [
                e
                for e in (await http.get(f"{deadletters_url}/dead-letters")).json()
                if e.get("id") not in ledger.earlier_dead_letters
            ]
        for event in dead:
            if not any(e.matches(event) for e in ledger.dead_letters):
                problems.append(
                    f"unexplained dead letter on {event.get('deadletter_topic')}: {event.get('data')!r}"
                )
        for expected in ledger.dead_letters:
            if not any(expected.matches(e) for e in dead):
                problems.append(f"expected dead letter missing ({expected.why}): {expected.topic}")
    return AuditReport(problems, orders, dead)


Get = Callable[..., Awaitable[httpx.Response]]
Each = Callable[[Any, Callable[[Any], Awaitable[Any]]], Awaitable[list[Any]]]
Listed = tuple[list[dict[str, Any]], str | None]  # a listing's entries, and why it was unreadable


def next_cursor(r: httpx.Response) -> int | None:
    """The `before` of the response's `rel="next"` Link: None on the last (or only) page."""
    url = r.links.get("next", {}).get("url")
    if url is None:
        return None
    return int(parse_qs(urlsplit(url).query)["before"][0])


async def listing(get: Get, path: str) -> Listed:
    """Every entry of a paged listing, newest first, and what went wrong reading it (or None)."""
    items: list[dict[str, Any]] = []
    before: int | None = None
    total: str | None = None
    while True:
        r = await get(path, limit=PAGE, **({} if before is None else {"before": before}))
        if r.status_code != 200:
            return items, f"{path}: unreadable ({r.status_code} {r.text[:200]})"
        items += r.json()
        if before is None:
            total = r.headers.get("X-Total-Count")
        cursor = next_cursor(r)
        if cursor is None:
            break
        if before is not None and cursor >= before:
            return items, f"{path}: the next page's cursor {cursor} does not move past {before}"
        before = cursor
    if total is not None and len(items) != int(total):
        return items, f"{path}: {len(items)} entries over all pages, X-Total-Count says {total}"
    return items, None


def holds(item: Mapping[str, Any], status: str) -> bool:
    """A listed reservation or booking is held unless its record says otherwise (`released`, ...).

    Today's listings show only what is held, without a status."""
    return item.get("status", status) == status


async def _accounts(
    ledger: Ledger, get: Get, each: Each, completed: set[int], rejected: set[int]
) -> list[str]:
    problems: list[str] = []

    async def account(login: str) -> tuple[str, httpx.Response, Listed]:
        payments = await listing(get, f"/billing/account/{login}/payments")
        return login, await get(f"/billing/account/{login}"), payments

    for login, acc, (payments, unreadable) in await each(sorted(ledger.refills), account):
        if acc.status_code != 200 or unreadable:
            problems.append(f"account {login}: unreadable ({acc.status_code}, {unreadable})")
            continue
        balance = Decimal(str(acc.json()["balance"]))
        net: Counter[int] = Counter()
        charges = refunds = Decimal(0)
        refunded = {p["order_id"] for p in payments if p["kind"] == "refund"}
        for p in payments:
            amount = Decimal(str(p["amount"]))
            if p["kind"] == "charge" and p.get("status", "charged") in ("charged", "refunded"):
                charges += amount
                net[p["order_id"]] += 1
                if p.get("status") == "refunded" and p["order_id"] not in refunded:
                    # A charge shown as its record says now: refunded, with no entry of its own.
                    refunds += amount
                    net[p["order_id"]] -= 1
            elif p["kind"] == "refund":
                refunds += amount
                net[p["order_id"]] -= 1
        expected = ledger.refills[login] - charges + refunds
        if balance != expected:
            problems.append(
                f"account {login}: balance {balance} != refills {ledger.refills[login]}"
                f" - charges {charges} + refunds {refunds}"
            )
        for order_id, n in net.items():
            if order_id in rejected and n != 0:
                problems.append(f"order {order_id} (rejected): {login} still charged")
            elif order_id in completed and n != 1:
                problems.append(f"order {order_id} (completed): {login} charged {n} times net")
    return problems


async def _products(
    ledger: Ledger, get: Get, each: Each, orders: dict[int, dict[str, Any]], completed: set[int]
) -> list[str]:
    problems: list[str] = []

    async def product(pid: int) -> tuple[int, httpx.Response, Listed]:
        return pid, await get(f"/stock/{pid}"), await listing(get, f"/stock/{pid}/reservations")

    for pid, prod, (reservations, unreadable) in await each(sorted(ledger.units_added), product):
        if prod.status_code != 200 or unreadable:
            problems.append(f"product {pid}: unreadable ({prod.status_code}, {unreadable})")
            continue
        p = prod.json()
        held: dict[int, int] = {}
        for r in reservations:
            if holds(r, "reserved"):
                if r["order_id"] in held:
                    problems.append(f"product {pid}: order {r['order_id']} listed as holding units twice")
                held[r["order_id"]] = r["quantity"]
        by_completed = sum(q for o, q in held.items() if o in completed)
        if p["reserved"] != sum(held.values()):
            problems.append(
                f"product {pid}: reserved {p['reserved']} != {sum(held.values())} held by its reservations"
            )
        if p["registered"] + p["restocked"] != ledger.units_added[pid]:
            problems.append(
                f"product {pid}: registered {p['registered']} + restocked {p['restocked']}"
                f" != {ledger.units_added[pid]} added"
            )
        if p["quantity"] + by_completed != ledger.units_added[pid]:
            problems.append(
                f"product {pid}: available {p['quantity']} + reserved by completed orders {by_completed}"
                f" != {ledger.units_added[pid]} added"
            )
        for order_id in held.keys() - completed:
            problems.append(f"product {pid}: units held by order {order_id}, not a completed order")
        for order_id in completed:
            o = orders[order_id]
            if o["id_product"] == pid and held.get(order_id) != o["quantity"]:
                problems.append(f"order {order_id} (completed): holds {held.get(order_id)} of product {pid}")
    return problems


async def _couriers(get: Get, completed: set[int], ours: set[int]) -> list[str]:
    every, unreadable = await listing(get, "/delivery")
    if unreadable:
        return [f"bookings unreadable ({unreadable})"]
    problems: list[str] = []
    bookings = [b for b in every if holds(b, "booked")]
    for (dtime, courier), n in Counter((b["dtime"], b["courier"]) for b in bookings).items():
        if n > 1:
            problems.append(f"courier {courier} booked {n} times in the slot at {dtime}")
    booked = Counter(b["id_order"] for b in bookings)
    for order_id in ours:
        n = booked.get(order_id, 0)
        if order_id in completed and n != 1:
            problems.append(f"order {order_id} (completed): {n} courier bookings")
        elif order_id not in completed and n:
            problems.append(f"order {order_id} (not completed): still holds a courier booking")
    return problems


async def _per_order(get: Get, each: Each, completed: set[int], rejected: set[int]) -> list[str]:
    """What each participant says it did for the order, next to how the order ended."""
    problems: list[str] = []
    held = {"stock": "reserved", "billing": "charged", "delivery": "booked"}
    paths = {
        "stock": "/stock/reservations/{}",
        "billing": "/billing/payments/{}",
        "delivery": "/delivery/bookings/{}",
    }

    async def statuses(order_id: int) -> tuple[int, dict[str, str | None]]:
        out: dict[str, str | None] = {}
        for participant, path in paths.items():
            r = await get(path.format(order_id))
            out[participant] = r.json()["status"] if r.status_code == 200 else None
        return order_id, out

    for order_id, seen in await each(sorted(completed | rejected), statuses):
        for participant, status in seen.items():
            holds = status == held[participant]
            if order_id in completed and not holds:
                problems.append(f"order {order_id} (completed): {participant} says {status}")
            if order_id in rejected and holds:
                problems.append(f"order {order_id} (rejected): {participant} still {status}")
    return problems


def audit_sync(*args: Any, **kwargs: Any) -> AuditReport:
    """`audit` for synchronous tests."""
    return asyncio.run(audit(*args, **kwargs))
