"""A large order history, written through the services' own code before a benchmark.

    (from bench.scale)  stats = await preload(stack, plan, workdir, concurrency=16)

Each prior order is left as a completed saga leaves it: the order record
(`OrderService.place`, with the saga start captured instead of sent, then the
saga's own `record_and_send` activity with the completed outcome), a stock
reservation, a courier booking and a charge (each participant's command
service, `app.state.commands.handle`, exactly what its pub/sub subscription
calls, with the replies it publishes dropped). Every store is the app's own
`StateStore` over `DaprHttp`, pointed at that app's sidecar by
`DAPR_HTTP_PORT` (state stores are scoped to their app, and `DaprHttp` takes
its port from the process's environment), so each app's part runs in a worker
process of its own:

    python -m bench.preload DIR orders       order app: number and store the orders
    python -m bench.preload DIR stock        } the three participants, in parallel,
    python -m bench.preload DIR delivery     } on what `orders` wrote
    python -m bench.preload DIR billing      }
    python -m bench.preload DIR complete     order app: record each saga's outcome

The five run at once: each follows the JSON-lines file the phase before it
writes (`orders.jsonl`, `replies-{app}.jsonl` in DIR, next to `plan.json`), so
the history takes about as long as its slowest phase. Each worker runs its items
with bounded concurrency (`--concurrency` lanes; items that contend for one
record, such as the order counter, share a lane) and prints its progress.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import random
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Hashable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

PARTICIPANTS = {"stock": "stock_app", "delivery": "delivery_app", "billing": "billing_app"}
ORDER_APP = "order"
ROOT = Path(__file__).resolve().parents[1]
ATTEMPTS = 10  # per item, on top of the services' own conflict retries
# What the items of each phase contend for (see `bounded`): every new order takes the next
# number from the order app's counter, every booking appends to delivery's bookings index,
# a reservation changes its product, a charge its account; recording outcomes contends on nothing.
ONE_RECORD = "all"
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class HistoryPlan:
    """Order i: account `logins[i % len]`, product `products[i % len]`, and the slot
    `slot_base + i // couriers` hours (the roster has `couriers` couriers per slot)."""

    orders: int
    logins: list[str]
    products: list[int]
    slot_base: str  # ISO 8601, on the hour, UTC
    couriers: int = 1
    price: str = "2.50"

    def slot(self, i: int) -> datetime:
        return datetime.fromisoformat(self.slot_base) + timedelta(hours=i // self.couriers)

    def request(self, i: int) -> dict[str, Any]:
        login = self.logins[i % len(self.logins)]
        return {
            "login": login,
            "email": f"{login}@example.com",
            "product_id": self.products[i % len(self.products)],
            "quantity": 1,
            "amount": Decimal(self.price),
            "dtime": self.slot(i),
        }

    @property
    def days(self) -> float:
        return (self.orders + self.couriers - 1) // self.couriers / 24

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> HistoryPlan:
        return cls(**json.loads(path.read_text()))


def history_slot_base(now: datetime | None = None) -> datetime:
    """Far enough ahead that no slot of the measured load can meet a history slot:
    `saga_bench.SlotClock` starts at most 3680 days ahead and takes an hour per order."""
    now = now or datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(days=4000)


# -- running many items with bounded concurrency ------------------------------


class Progress:
    def __init__(self, name: str, total: int, every: float = 10.0) -> None:
        self.name, self.total, self.every = name, total, every
        self.done = 0
        self.started = self.shown = time.monotonic()

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.shown >= self.every or self.done == self.total:
            self.shown = now
            rate = self.done / max(now - self.started, 1e-9)
            print(
                f"[preload {self.name}] {self.done}/{self.total} ({rate:.0f}/s)", file=sys.stderr, flush=True
            )


async def persist(fn: Callable[[], Awaitable[Any]], what: str) -> Any:
    """`fn` until it succeeds: the services retry their own conflicts, but a hot record can
    outlast those retries, and a sidecar can be briefly busy. Every step is idempotent by
    order id, order creation aside: a failed one almost always failed before its commit
    (a conflict, a refused call); one that committed and lost its answer leaves a pending
    order nobody lists, outside the history."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await fn()
        except Exception as err:
            if attempt == ATTEMPTS:
                raise RuntimeError(f"{what}: still failing after {ATTEMPTS} attempts: {err!r}") from err
            await asyncio.sleep(random.uniform(0, 0.05 * 2**attempt))
    raise AssertionError("unreachable")


async def bounded(
    items: Iterable[T] | AsyncIterable[T],
    fn: Callable[[T], Awaitable[R]],
    concurrency: int,
    key: Callable[[T], Hashable] | None = None,
    sink: Callable[[R], None] | None = None,
) -> list[R]:
    """`fn` over `items` (a list, or a stream still being written), at most `concurrency` at
    a time, in lanes that each run their items one after the other. `key` names the record
    an item contends for (its product, its account, or one for all, as a counter): the items
    of one key share a lane, so they never collide on that record's ETag, and the keys are
    dealt round-robin over the lanes. Each result goes to `sink` as it comes; all of them are
    returned, in completion order."""
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(concurrency)]
    lane_of: dict[Hashable, int] = {}
    results: list[R] = []
    done = object()

    async def deal() -> None:
        n = 0
        async for item in _aiter(items):
            lane = (
                n % concurrency if key is None else lane_of.setdefault(key(item), len(lane_of) % concurrency)
            )
            n += 1
            queues[lane].put_nowait(item)
        for queue in queues:
            queue.put_nowait(done)

    async def lane(queue: asyncio.Queue[Any]) -> None:
        while (item := await queue.get()) is not done:
            result = await fn(item)
            results.append(result)
            if sink is not None:
                sink(result)

    await asyncio.gather(deal(), *(lane(q) for q in queues))
    return results


async def _aiter(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


# -- the phases, on any store (tests pass saga_testkit.dapr.InMemoryStateStore) --------


class DroppingPublisher:
    """The replies a participant publishes, and the commands an activity sends: nobody
    waits for them, since no saga runs for a prior order."""

    async def publish(self, topic: str, data: Any) -> None:
        return None


class NoParticipants:
    """A prior order's outcome is recorded with no request: nothing is asked of anyone."""

    async def ask(self, command: Any, within: Any) -> Any:
        raise AssertionError(f"a preloaded order asked {command.participant}")


def order_service(store: Any, plan: HistoryPlan) -> tuple[Any, Any]:
    """The order app's service over `store`, as `order_app.main` wires it, with the two
    ports that would leave the app replaced: the directory knows the plan's accounts and
    products, and a saga start is captured (`saga_testkit.order.FakeSagas`), not sent."""
    from order_app.adapters.idempotency import IdempotencyKeys
    from order_app.adapters.repository import OrderRepository
    from order_app.config import Settings
    from order_app.service.orders import OrderService
    from saga_testkit.order import FakeDirectory, FakeSagas

    sagas = FakeSagas()
    service = OrderService(
        orders=OrderRepository(store),
        keys=IdempotencyKeys(store),
        directory=FakeDirectory(accounts=set(plan.logins), products=set(plan.products)),
        sagas=sagas,
        settings=Settings(),
    )
    return service, sagas


async def create_orders(
    store: Any,
    plan: HistoryPlan,
    concurrency: int,
    progress: Progress | None = None,
    sink: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Place each order; return per order its id, creation time and the saga's three commands."""
    from order_app.domain import OrderRequest, StepName

    service, _ = order_service(store, plan)

    async def one(i: int) -> dict[str, Any]:
        request = OrderRequest(**plan.request(i))
        order, created = await persist(lambda: service.place(request, None), f"order #{i}")
        assert created
        saga = service.saga_input(order)
        if progress:
            progress.step()
        return {
            "order_id": order.id,
            "created_at": order.created_at.isoformat(),
            "commands": {
                "stock": saga.command(StepName.RESERVE_STOCK).body,
                "delivery": saga.command(StepName.RESERVE_COURIER).body,
                "billing": saga.command(StepName.CHARGE_PAYMENT).body,
            },
        }

    return await bounded(range(plan.orders), one, concurrency, key=lambda i: ONE_RECORD, sink=sink)


CONTENDED: dict[str, Callable[[dict[str, Any]], Hashable]] = {
    "stock": lambda order: order["commands"]["stock"]["product_id"],
    "delivery": lambda order: ONE_RECORD,
    "billing": lambda order: order["commands"]["billing"]["login"],
}


def participant_commands(app_id: str, store: Any) -> tuple[Any, Callable[[Any], Any]]:
    """The participant's command service (what its subscription route calls) and its
    command parser, built by the app's own `build_app` around `store`."""
    from dapr_helpers.saga.contract import BILLING, DELIVERY, STOCK

    package = PARTICIPANTS[app_id]
    main = importlib.import_module(f"{package}.main")
    config = importlib.import_module(f"{package}.config")
    app = main.build_app(config.Settings(), store, DroppingPublisher())
    return app.state.commands, {"stock": STOCK, "delivery": DELIVERY, "billing": BILLING}[app_id].parse


async def run_commands(
    app_id: str,
    store: Any,
    orders: Iterable[dict[str, Any]] | AsyncIterable[dict[str, Any]],
    concurrency: int,
    progress: Progress | None = None,
    sink: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Each order's command for `app_id`, handled as its subscription would; every reply
    must be a success (the plan leaves enough money, units and slots)."""
    commands, parse = participant_commands(app_id, store)

    async def one(order: dict[str, Any]) -> dict[str, Any]:
        body = order["commands"][app_id]
        reply = await persist(lambda: commands.handle(parse(body)), f"{app_id} for order {order['order_id']}")
        if not reply.ok:
            raise RuntimeError(f"{app_id} refused order {order['order_id']}: {reply.reason} {reply.message}")
        if progress:
            progress.step()
        at = datetime.now(UTC).isoformat()
        return {"order_id": order["order_id"], "created_at": order["created_at"], "app": app_id, "at": at}

    return await bounded(orders, one, concurrency, key=CONTENDED[app_id], sink=sink)


def joined(replies: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The participants' replies (rows of `run_commands`), one row per order once all three are in."""
    joiner = Joiner()
    return [row for reply in replies if (row := joiner.add(reply)) is not None]


class Joiner:
    """Gathers each order's three replies; `add` returns the order's row with the last one."""

    def __init__(self) -> None:
        self.waiting: dict[int, dict[str, Any]] = {}

    def add(self, reply: dict[str, Any]) -> dict[str, Any] | None:
        row = self.waiting.setdefault(
            reply["order_id"], {"order_id": reply["order_id"], "created_at": reply["created_at"], "at": {}}
        )
        row["at"][reply["app"]] = reply["at"]
        return self.waiting.pop(reply["order_id"]) if len(row["at"]) == len(PARTICIPANTS) else None


def completed_snapshot(order: dict[str, Any]) -> dict[str, Any]:
    """The order's last snapshot as a completed saga records it: every step succeeded
    (`order`: a row of `joined`, with when each participant answered)."""
    from order_app.domain import OrderStatus, StepName, StepRecord
    from order_app.workflow.messages import Outcome, SagaSnapshot

    created = datetime.fromisoformat(order["created_at"])
    at = {name: datetime.fromisoformat(t) for name, t in order["at"].items()}
    reserved = max(created, at["stock"], at["delivery"])
    steps = (
        StepRecord(name=StepName.RESERVE_STOCK).request(created).succeed(max(created, at["stock"])),
        StepRecord(name=StepName.RESERVE_COURIER).request(created).succeed(max(created, at["delivery"])),
        StepRecord(name=StepName.CHARGE_PAYMENT).request(reserved).succeed(max(reserved, at["billing"])),
    )
    final = max(s.answered_at for s in steps if s.answered_at)
    outcome = Outcome(status=OrderStatus.COMPLETED, message="The order is completed.")
    snapshot = SagaSnapshot(order_id=order["order_id"], at=final, steps=steps, outcome=outcome)
    return snapshot.model_dump(mode="json")


async def complete_orders(
    store: Any,
    orders: Iterable[dict[str, Any]] | AsyncIterable[dict[str, Any]],
    concurrency: int,
    progress: Progress | None = None,
) -> int:
    """Record each order's outcome (rows of `joined`) through the saga's own activity,
    `record_and_send`."""
    from order_app.adapters.repository import OrderRepository
    from order_app.workflow.activities import SagaActivities

    activities = SagaActivities(DroppingPublisher(), NoParticipants(), OrderRepository(store))

    async def one(order: dict[str, Any]) -> None:
        snapshot = completed_snapshot(order)
        await persist(lambda: activities.record_and_send(None, snapshot), f"outcome of {order['order_id']}")  # type: ignore[arg-type]
        if progress:
            progress.step()

    return len(await bounded(orders, one, concurrency))


# -- the worker processes --------------------------------------------------------------


class Lines:
    """A JSON-lines file written a row at a time, each flushed, so a follower sees it at once."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("w")

    def write(self, row: dict[str, Any]) -> None:
        self.file.write(json.dumps(row, separators=(",", ":")) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class Tail:
    """Reads the rows another worker has written so far (`Lines`), never half a row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: Any = None
        self.partial = ""

    def read(self) -> list[dict[str, Any]]:
        if self.file is None:
            if not self.path.exists():
                return []
            self.file = self.path.open()
        rows = []
        while line := self.file.readline():
            self.partial += line
            if self.partial.endswith("\n"):
                rows.append(json.loads(self.partial))
                self.partial = ""
        return rows


async def follow(paths: list[Path], total: int) -> AsyncIterator[dict[str, Any]]:
    """The rows of `paths`, as their writers add them, until `total` have come."""
    tails = [Tail(path) for path in paths]
    seen = 0
    while seen < total:
        rows = [row for tail in tails for row in tail.read()]
        for row in rows:
            yield row
        seen += len(rows)
        if not rows:
            await asyncio.sleep(0.1)


def replies_path(workdir: Path, app_id: str) -> Path:
    return workdir / f"replies-{app_id}.jsonl"


async def worker(workdir: Path, phase: str, concurrency: int) -> None:
    """One phase against the sidecar at `DAPR_HTTP_PORT` (the app's own settings name its
    store). The phases run at once, each following what the one before it writes."""
    from dapr_helpers.client import DaprHttp
    from dapr_helpers.state import StateStore

    plan = HistoryPlan.load(workdir / "plan.json")
    app_id = ORDER_APP if phase in ("orders", "complete") else phase
    settings = importlib.import_module(f"{PARTICIPANTS.get(app_id, 'order_app')}.config").Settings()
    dapr = DaprHttp()
    store = StateStore(dapr, settings.state_store)
    progress = Progress(phase, plan.orders)
    try:
        if phase == "orders":
            out = Lines(workdir / "orders.jsonl")
            await create_orders(store, plan, concurrency, progress, out.write)
            out.close()
        elif phase == "complete":
            joiner = Joiner()
            replies = follow(
                [replies_path(workdir, a) for a in PARTICIPANTS], len(PARTICIPANTS) * plan.orders
            )
            rows = (row async for reply in replies if (row := joiner.add(reply)) is not None)
            await complete_orders(store, rows, concurrency, progress)
        else:
            out = Lines(replies_path(workdir, phase))
            await run_commands(
                phase,
                store,
                follow([workdir / "orders.jsonl"], plan.orders),
                concurrency,
                progress,
                out.write,
            )
            out.close()
    finally:
        await dapr.close()


async def _start_worker(
    stack: Any, workdir: Path, phase: str, concurrency: int
) -> asyncio.subprocess.Process:
    app_id = ORDER_APP if phase in ("orders", "complete") else phase
    app = stack.apps[app_id]
    env = {
        **os.environ,
        "APP_ID": app_id,
        "DAPR_HTTP_PORT": str(app.http_port),
        "DAPR_GRPC_PORT": str(app.grpc_port),
        "LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.preload",
        str(workdir),
        phase,
        "--concurrency",
        str(concurrency),
        env=env,
        cwd=str(ROOT),
    )


def _prepare(workdir: Path, plan: HistoryPlan) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    plan.save(workdir / "plan.json")


def _order_ids(workdir: Path) -> list[int]:
    return sorted(
        json.loads(line)["order_id"] for line in (workdir / "orders.jsonl").read_text().splitlines()
    )


PHASES = ("orders", *PARTICIPANTS, "complete")


async def preload(stack: Any, plan: HistoryPlan, workdir: Path, concurrency: int = 16) -> dict[str, Any]:
    """Write the plan's history into the running `stack`: the five phases' workers run at
    once, each following the one before it. Returns the order ids and how long it took."""
    await asyncio.to_thread(_prepare, workdir, plan)
    started = time.monotonic()
    processes = {phase: await _start_worker(stack, workdir, phase, concurrency) for phase in PHASES}
    seconds: dict[str, float] = {}

    async def wait(phase: str) -> None:
        status = await processes[phase].wait()
        seconds[phase] = time.monotonic() - started
        if status != 0:
            raise RuntimeError(f"preload phase {phase!r} failed (exit status {status})")

    try:
        await asyncio.gather(*(wait(phase) for phase in PHASES))
    finally:
        for process in processes.values():  # one failed: the others would wait for it forever
            if process.returncode is None:
                process.kill()
                await process.wait()
    total = time.monotonic() - started
    order_ids = await asyncio.to_thread(_order_ids, workdir)
    print(
        f"[preload] {len(order_ids)} orders in {total:.0f} s ({len(order_ids) / total:.0f} orders/s; "
        + ", ".join(f"{k} done at {v:.0f} s" for k, v in seconds.items())
        + ")",
        file=sys.stderr,
        flush=True,
    )
    return {
        "orders": len(order_ids),
        "order_ids": order_ids,
        "seconds": round(total, 1),
        "orders_per_s": round(len(order_ids) / total, 1),
        "phase_done_at_s": {k: round(v, 1) for k, v in seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workdir", type=Path)
    parser.add_argument("phase", choices=["orders", *PARTICIPANTS, "complete"])
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(worker(args.workdir, args.phase, args.concurrency))


if __name__ == "__main__":
    main()
