"""The console's read model of the orders, kept by reading the records the saga writes.

Final records never change, so each is read once and counted once; only
pending ones are read again. A refresh costs one read of the order counter,
one bulk read of the new and still-pending ids, and one of the dead-letter
log, whatever the shop's history; the first one counts every order up to the
counter (in batches), once per process. Nothing here writes, and nothing runs
unless someone watches the console: refreshes are driven by its requests.

Every change gets a sequence number, so each of several live streams can ask
for what changed since it last looked, however the refreshes interleave.
"""

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from order_app.adapters.dead_letters import DeadLetterLog
from order_app.adapters.repository import OrderRepository
from order_app.console.views import compensating
from order_app.domain import Order, OrderStatus

BATCH = 100  # ids per bulk read


@dataclass(frozen=True)
class Totals:
    completed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # by reason
    in_flight: int = 0  # pending sagas
    compensating: int = 0  # pending sagas with a compensation sent and not yet acknowledged
    dead_letters: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "completed": self.completed,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "in_flight": self.in_flight,
            "compensating": self.compensating,
            "dead_letters": self.dead_letters,
        }


class ConsoleView:
    """The newest `keep` orders, and totals over every order."""

    def __init__(
        self, orders: OrderRepository, dead_letters: DeadLetterLog, keep: int = 500, grace: float = 60.0
    ) -> None:
        self.orders = orders
        self.dead_letters = dead_letters
        self.keep = keep
        self.grace = grace  # seconds an id without a record is looked for again
        self._unseen: dict[int, float] = {}  # id -> when it was first found without a record
        self._recent: dict[int, Order] = {}  # newest `keep` orders, final or not
        self._pending: dict[int, Order] = {}  # every pending order, however old
        self._changed: dict[int, int] = {}  # id -> sequence number of its last change, for `recent`
        self._seen_upto = 0  # every id up to it has been read at least once
        self._completed = 0
        self._rejected: Counter[str] = Counter()
        self._dead_letters = 0
        self.sequence = 0
        self._lock = asyncio.Lock()
        self._refreshed_at: float | None = None

    @property
    def totals(self) -> Totals:
        pending = self._pending.values()
        return Totals(
            completed=self._completed,
            rejected=dict(self._rejected),
            in_flight=len(self._pending),
            compensating=sum(1 for o in pending if compensating(o)),
            dead_letters=self._dead_letters,
        )

    async def refresh(self, max_age: float = 0.0) -> None:
        """Read what may have changed; skipped if another caller did within `max_age` seconds."""
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if self._refreshed_at is not None and now - self._refreshed_at < max_age:
                return
            last = await self.orders.last_id()
            new_ids = list(range(last, self._seen_upto, -1))
            ids = new_ids + sorted(self._pending.keys() | self._unseen.keys(), reverse=True)
            found: dict[int, Order] = {}
            for start in range(0, len(ids), BATCH):
                found.update((o.id, o) for o in await self.orders.get_many(ids[start : start + BATCH]))
            for order_id in self._pending.keys() - found.keys():
                self._forget(order_id)  # removed: its saga could not be started
            # An id handed out with an Idempotency-Key is counted before its record is
            # stored: look again for a while. One never stored (a failed creation) is let go.
            for order_id in new_ids:
                if order_id not in found:
                    self._unseen.setdefault(order_id, now)
            for order_id, since in list(self._unseen.items()):
                if order_id in found or now - since > self.grace:
                    del self._unseen[order_id]
            for order in sorted(found.values(), key=lambda o: o.id):
                self._take(order, recent=order.id > last - self.keep or order.id in self._recent)
            self._seen_upto = max(self._seen_upto, last)
            for order_id in sorted(self._recent)[: max(len(self._recent) - self.keep, 0)]:
                del self._recent[order_id]
                self._changed.pop(order_id, None)
            self._dead_letters = int((await self.dead_letters.read()).get("count", 0))
            self._refreshed_at = asyncio.get_running_loop().time()

    def _take(self, order: Order, recent: bool) -> None:
        before = self._pending.get(order.id) or self._recent.get(order.id)
        if before == order:
            return
        if order.is_final:
            self._pending.pop(order.id, None)
            if order.status is OrderStatus.COMPLETED:
                self._completed += 1
            else:
                self._rejected[order.reason.value if order.reason else "unknown"] += 1
        else:
            self._pending[order.id] = order
        if recent:
            self._recent[order.id] = order
            self.sequence += 1
            self._changed[order.id] = self.sequence

    def _forget(self, order_id: int) -> None:
        self._pending.pop(order_id, None)
        if self._recent.pop(order_id, None) is not None:
            self.sequence += 1
            self._changed[order_id] = self.sequence

    def recent(
        self, status: str | None = None, login: str | None = None, limit: int | None = None
    ) -> list[Order]:
        """The newest orders first, only those with `status` and `login` when given."""
        found = [
            o
            for _, o in sorted(self._recent.items(), reverse=True)
            if (status is None or o.status.value == status) and (login is None or o.login == login)
        ]
        return found[:limit] if limit is not None else found

    def changed_since(self, sequence: int) -> tuple[list[Order], list[int]]:
        """The recent orders changed after `sequence` (oldest first), and the ids that left the view."""
        ids = sorted((i for i, s in self._changed.items() if s > sequence), key=self._changed.__getitem__)
        return [self._recent[i] for i in ids if i in self._recent], [i for i in ids if i not in self._recent]

    def cached(self, order_id: int) -> Order | None:
        """The record if it is final and held here (it cannot have changed since)."""
        order = self._recent.get(order_id)
        return order if order is not None and order.is_final else None
