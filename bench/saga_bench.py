"""The saga benchmark: concurrent clients create orders against the local stack.

    .venv/bin/python -m bench.saga_bench --clients 32 --duration 30

Starts the four apps on localdapr, or with `--runtime dapr` on real daprd with
Postgres and Redis (the e2e `Stack`, free ports, plus the audit's dead-letter
subscriber), sets up accounts and products, then runs `--clients` clients for
`--duration` seconds. Each client creates an order
(a realistic mix: mostly ones that complete, some with too little money, too
many units, or a courier slot already taken), waits for its final status,
and starts the next. Afterwards it audits everything (`tests/faults/audit.py`) and
writes `reports/bench/bench.json` and `bench.png`; the last line of its output
is one JSON object with the headline figures. Exit status 1 if the audit fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from tests.e2e.stack import DEADLETTERS_APP, ROOT, RUNTIMES, Stack, make_stack
from tests.faults.audit import Ledger, audit

# Kind of order -> (weight, expected status, expected reason).
MIX: dict[str, tuple[int, str, str | None]] = {
    "ok": (80, "completed", None),
    "poor": (7, "rejected", "insufficient_funds"),
    "short": (7, "rejected", "insufficient_stock"),
    "no_courier": (6, "rejected", "no_courier_available"),
}
PRODUCTS = 8  # stock positions the successful orders spread over
UNITS = 1_000_000
PRICE = Decimal("2.50")


@dataclass
class Sample:
    kind: str
    order_id: int
    started: float  # monotonic, at POST
    created: float  # 201 received
    final: float  # final status seen
    status: str
    reason: str | None
    steps: list[dict[str, Any]]


@dataclass
class Fixture:
    """What the clients order from; everything also goes into the ledger."""

    rich: list[str] = field(default_factory=list)  # one account per client
    poor: str = ""
    products: list[int] = field(default_factory=list)
    scarce: int = 0  # 1 unit: ordering 2 is always too many
    taken_slots: list[datetime] = field(default_factory=list)  # booked by the warm-up orders


class SlotClock:
    """Hands out distinct future one-hour slots: the default roster has one courier."""

    def __init__(self) -> None:
        self.base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
        self.base += timedelta(days=30 + random.randrange(3650))
        self.n = 0

    def next(self) -> datetime:
        self.n += 1
        return self.base + timedelta(hours=self.n)


def order_body(login: str, product: int, quantity: int, amount: Decimal, slot: datetime) -> dict[str, Any]:
    return {
        "login": login,
        "e_mail": f"{login}@example.com",
        "id_product": product,
        "quantity": quantity,
        "amount": str(amount),
        "dtime": slot.strftime("%Y-%m-%d %H:%M:%S"),
    }


async def call(http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    """One request; its status and JSON body (aiohttp: the load generator must stay light)."""
    async with http.request(method, path, **kwargs) as r:
        return r.status, await r.json(content_type=None)


async def setup(http: aiohttp.ClientSession, clients: int, ledger: Ledger, slots: SlotClock) -> Fixture:
    fx = Fixture()
    tag = f"{random.randrange(16**6):06x}"

    async def account(login: str, amount: Decimal) -> str:
        status, body = await call(http, "POST", "/billing/register", params={"login": login})
        assert status in (200, 201), body
        refill = {"login": login, "amount": str(amount)}
        status, body = await call(http, "POST", "/billing/refill", json=refill)
        assert status == 200, body
        ledger.account(login, amount)
        return login

    async def product(units: int) -> int:
        status, body = await call(
            http, "POST", "/stock/register", json={"description": f"bench-{tag}", "quantity": units}
        )
        assert status in (200, 201), body
        pid = int(body["id"])
        ledger.product(pid, units)
        return pid

    fx.rich = list(
        await asyncio.gather(*(account(f"bench-{tag}-{i}", Decimal(10**7)) for i in range(clients)))
    )
    fx.poor = await account(f"bench-{tag}-poor", Decimal(1))
    fx.products = list(await asyncio.gather(*(product(UNITS) for _ in range(PRODUCTS))))
    fx.scarce = await product(1)

    # Warm-up: a few orders that complete and book the slots `no_courier` orders will ask for.
    async def book() -> datetime:
        slot = slots.next()
        status, body = await call(
            http, "POST", "/orders/", json=order_body(fx.rich[0], fx.products[0], 1, PRICE, slot)
        )
        assert status == 201, body
        ledger.order(body["id"])
        _, final = await call(http, "GET", f"/orders/{body['id']}", params={"wait": 30})
        assert final["status"] == "completed", final
        return slot

    fx.taken_slots = list(await asyncio.gather(*(book() for _ in range(8))))
    return fx


async def client(
    n: int, http: aiohttp.ClientSession, fx: Fixture, slots: SlotClock, ledger: Ledger, deadline: float
) -> list[Sample]:
    rng = random.Random(n)
    kinds, weights = list(MIX), [w for w, _, _ in MIX.values()]
    samples: list[Sample] = []
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        login, product, quantity, slot = fx.rich[n], rng.choice(fx.products), 1, slots.next()
        if kind == "poor":
            login = fx.poor
        elif kind == "short":
            product, quantity = fx.scarce, 2
        elif kind == "no_courier":
            slot = rng.choice(fx.taken_slots)
        started = time.monotonic()
        status, body = await call(
            http, "POST", "/orders/", json=order_body(login, product, quantity, PRICE, slot)
        )
        created = time.monotonic()
        if status != 201:
            raise RuntimeError(f"create failed: {status} {body}")
        order_id = int(body["id"])
        ledger.order(order_id)
        while True:
            _, order = await call(http, "GET", f"/orders/{order_id}", params={"wait": 30})
            if order["status"] in ("completed", "rejected"):
                break
        samples.append(
            Sample(
                kind,
                order_id,
                started,
                created,
                time.monotonic(),
                order["status"],
                order["reason"],
                order["steps"],
            )
        )
    return samples


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name: [0] state, [1] ppid, [11..14] CPU ticks."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu(pid: int, children: dict[int, list[int]]) -> float:
    """CPU seconds of a process and of its children, live (Postgres's backends) or reaped."""
    fields = _stat(pid)
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    total = ticks / os.sysconf("SC_CLK_TCK")
    return total + sum(tree_cpu(child, children) for child in children.get(pid, []))


def cpu_by_name(pids: dict[str, int], own_name: str) -> dict[str, float]:
    """CPU time (user + system) each named process tree has used so far, and this process's
    own under `own_name` (the load generator shares the machine); Linux only, else only ours."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
    out: dict[str, float] = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError, ValueError):
            out[name] = tree_cpu(pid, children)
    own = os.times()
    out[own_name] = own.user + own.system
    return out


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU time each stack process has used so far, and the bench client's."""
    return cpu_by_name(stack.processes(), "bench client")


def start_profilers(stack: Stack, seconds: float, out: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy on localdapr and each app for the load window (`--profile`): raw collapsed stacks,
    summarised by `python -m bench.profile_summary`. Samples only the thread holding the GIL, so
    the stacks are where each process spends its Python CPU."""
    out.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--gil",
                "--nonblocking",  # never pauses the process, so the profile barely slows the run
                "-r",
                "100",
                "-d",
                str(int(seconds)),
                "-f",
                "raw",
                "-o",
                str(out / f"{name}.txt"),
                "--pid",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in stack.processes().items()
        if name in ("localdapr", *stack.apps) and name != DEADLETTERS_APP  # py-spy reads Python only
    ]


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def step_times(samples: list[Sample]) -> dict[str, dict[str, float]]:
    """Per step: requested -> answered, and (for compensated ones) compensation requested -> done."""
    spans: dict[str, list[float]] = {}

    def ms(a: str | None, b: str | None) -> float | None:
        if not a or not b:
            return None
        return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() * 1000

    for s in samples:
        for step in s.steps:
            if (d := ms(step.get("requested_at"), step.get("answered_at"))) is not None:
                spans.setdefault(step["name"], []).append(d)
            if (d := ms(step.get("compensation_requested_at"), step.get("compensated_at"))) is not None:
                spans.setdefault(f"{step['name']} (compensation)", []).append(d)
    return {
        name: {"n": len(v), "p50_ms": pct(v, 50), "p95_ms": pct(v, 95), "mean_ms": statistics.fmean(v)}
        for name, v in sorted(spans.items())
    }


def chart(samples: list[Sample], t0: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    seconds = [int(s.final - t0) for s in samples]
    span = max(seconds, default=0) + 1
    per_second = [0] * span
    for sec in seconds:
        per_second[sec] += 1
    left.plot(range(span), per_second, drawstyle="steps-post")
    left.set(title="Completed sagas per second", xlabel="seconds since start", ylabel="sagas/s")
    left.grid(alpha=0.3)
    latencies = [(s.final - s.started) * 1000 for s in samples]
    right.hist(latencies, bins=60)
    for p, style in ((50, "--"), (95, "-."), (99, ":")):
        right.axvline(pct(latencies, p), color="k", linestyle=style, label=f"p{p} {pct(latencies, p):.0f} ms")
    right.set(title="Latency, create to final status", xlabel="ms", ylabel="orders")
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(out: Path, results: dict[str, Any], samples: list[Sample], t0: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    (out / "samples.json").write_text(
        json.dumps([[s.kind, s.order_id, s.started - t0, s.final - t0, s.status] for s in samples])
    )
    audit_state = "clean" if results["audit_ok"] else "FAILED"
    title = (
        f"{results['runtime']}: {results['clients']} clients, {len(samples)} sagas in "
        f"{results['duration_s']:.0f} s, "
        f"audit {audit_state}"
    )
    chart(samples, t0, out / "bench.png", title)


class LoadHooks(Protocol):
    """What `drive` lets a caller do around the measured load (`bench.scale`: preload a history
    and measure the state it writes), outside the measured window."""

    async def before_load(
        self, stack: Stack, http: aiohttp.ClientSession, fx: Fixture, ledger: Ledger
    ) -> None: ...
    async def after_load(self, stack: Stack) -> None: ...


@dataclass
class Backlog:
    """`--backlog N` (real daprd): before the load, N one-off jobs due in 48 h are scheduled
    through the Jobs API of the dead-letter reader's sidecar (so that no sidecar of the saga
    serves the preload). They stand for the retention reminders that finished sagas leave in
    the scheduler until `stateRetentionPolicy` purges them: 90,000 after an hour at 25 sagas/s,
    two million after a day. Jobs and reminders are both scheduler jobs, kept in its etcd and
    its queue alike."""

    jobs: int
    in_flight: int = 32
    seconds: float = 0.0

    async def before_load(
        self, stack: Stack, http: aiohttp.ClientSession, fx: Fixture, ledger: Ledger
    ) -> None:
        system = stack.system  # type: ignore[attr-defined]
        await self.schedule(f"http://127.0.0.1:{system.sidecars[DEADLETTERS_APP].http_port}")
        await asyncio.sleep(5)  # the scheduler's queue takes in the last writes outside the measure

    async def schedule(self, sidecar: str) -> None:
        """The jobs, `in_flight` at a time, through the Jobs API of the daprd at `sidecar`."""
        numbers, t0 = iter(range(self.jobs)), time.monotonic()
        async with aiohttp.ClientSession(sidecar) as dapr:

            async def worker() -> None:
                for n in numbers:  # shared: each job is taken by one worker
                    async with dapr.post(f"/v1.0-alpha1/jobs/backlog-{n}", json={"dueTime": "48h"}) as r:
                        if r.status >= 300:
                            raise RuntimeError(f"scheduling backlog job {n}: {r.status} {await r.text()}")

            await asyncio.gather(*(worker() for _ in range(self.in_flight)))
        self.seconds = time.monotonic() - t0
        print(f"[backlog] {self.jobs} jobs scheduled in {self.seconds:.0f} s", file=sys.stderr, flush=True)

    async def after_load(self, stack: Stack) -> None:
        pass


async def drive(stack: Stack, args: argparse.Namespace, hooks: LoadHooks | None = None) -> dict[str, Any]:
    ledger, slots = Ledger(), SlotClock()
    connector = aiohttp.TCPConnector(limit=args.clients + 8)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(stack.url, connector=connector, timeout=timeout) as http:
        fx = await setup(http, args.clients, ledger, slots)
        if hooks is not None:
            await hooks.before_load(stack, http, fx, ledger)
        profilers = start_profilers(stack, args.duration, Path(args.profile)) if args.profile else []
        cpu_before = cpu_seconds(stack)
        t0 = time.monotonic()
        deadline = t0 + args.duration
        runs = await asyncio.gather(
            *(client(n, http, fx, slots, ledger, deadline) for n in range(args.clients))
        )
        cpu_after, t1 = cpu_seconds(stack), time.monotonic()
        if hooks is not None:
            await hooks.after_load(stack)
        for profiler in profilers:
            await asyncio.to_thread(profiler.wait)
    samples = [s for run in runs for s in run]
    elapsed = max(s.final for s in samples) - t0
    report = await audit(stack.url, ledger, stack.app_url(DEADLETTERS_APP), settle_seconds=30)

    latencies = [(s.final - s.started) * 1000 for s in samples]
    unexpected = [
        f"{s.kind} order {s.order_id}: {s.status} {s.reason}"
        for s in samples
        if (s.status, s.reason) != MIX[s.kind][1:]
    ]
    cpu_used = {name: cpu_after[name] - cpu_before.get(name, 0) for name in cpu_after}
    results: dict[str, Any] = {
        "clients": args.clients,
        "duration_s": round(elapsed, 2),
        "sagas": len(samples),
        "throughput_sagas_per_s": round(len(samples) / elapsed, 1),
        "p50_ms": round(pct(latencies, 50), 1),
        "p95_ms": round(pct(latencies, 95), 1),
        "p99_ms": round(pct(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
        "create_p50_ms": round(pct([(s.created - s.started) * 1000 for s in samples], 50), 1),
        "outcomes": {
            f"{k}: {st}{' ' + r if r else ''}": sum(1 for s in samples if s.kind == k)
            for k, (_, st, r) in MIX.items()
        },
        "unexpected_outcomes": unexpected[:20],
        "steps": step_times(samples),
        "cpu_share_during_load": {  # 1.0 = one core busy all the time
            name: round(used / (t1 - t0), 2) for name, used in cpu_used.items()
        },
        # What each saga costs, nearly independent of the load; on a shared VM it also moves
        # with the machine's speed (the load generator's own figure is the canary).
        "cpu_ms_per_saga": {name: round(1000 * used / len(samples), 1) for name, used in cpu_used.items()},
        "audit_ok": report.ok,
        "audit_problems": report.problems[:50],
        "runtime": stack.runtime,
        "config": str(stack.config),
        "backlog_jobs": getattr(args, "backlog", 0),
        "backlog_seconds": round(hooks.seconds, 1) if isinstance(hooks, Backlog) else None,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    print(report, file=sys.stderr)
    await asyncio.to_thread(write_outputs, Path(args.out), results, samples, t0)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench"))
    parser.add_argument("--profile", metavar="DIR", help="py-spy every process during the load, into DIR")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs, data)")
    parser.add_argument(
        "--config",
        type=Path,
        default=ROOT / "config.yaml",
        help="the sidecars' Configuration (default: config.yaml), to measure a setting such as retention",
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        metavar="N",
        help="real daprd: schedule N jobs due in 48 h before the load, standing for retention reminders",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="localdapr",
        help="localdapr, or real daprd with Postgres and Redis",
    )
    args = parser.parse_args()
    if args.backlog and args.runtime != "dapr":
        parser.error("--backlog needs --runtime dapr: localdapr keeps no scheduler")
    if args.backlog < 0:
        parser.error(f"--backlog {args.backlog}: a number of jobs cannot be negative")
    if not args.config.is_file():
        parser.error(f"--config {args.config}: no such file")
    try:  # checked first: a run should not end without its chart
        import matplotlib  # noqa: F401
    except ImportError:
        sys.exit("matplotlib is needed for the chart: .venv/bin/pip install matplotlib")

    workdir = Path(tempfile.mkdtemp(prefix="saga-bench-"))
    stack = make_stack(args.runtime, workdir, deadletters=True, config=args.config)
    try:
        stack.start()
        results = asyncio.run(drive(stack, args, Backlog(args.backlog) if args.backlog else None))
    except BaseException:
        print(stack.logs(), file=sys.stderr)
        raise
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"stack directory kept: {workdir}", file=sys.stderr)

    summary = {k: results[k] for k in ("runtime", "clients", "sagas", "duration_s", "throughput_sagas_per_s")}
    summary |= {k: results[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "audit_ok")}
    print(json.dumps(results["steps"], indent=2), file=sys.stderr)
    print(json.dumps(summary))
    sys.exit(0 if results["audit_ok"] else 1)


if __name__ == "__main__":
    main()
