"""The soak: steady load while processes are `kill -9`ed and restarted, then the audit.

    .venv/bin/python -m bench.soak --runtime localdapr --duration 180 --seed 7

Starts a stack of its own (the e2e `Stack` on free ports, with the audit's
dead-letter subscriber), sets up accounts and products as `make bench` does,
then for `--duration` seconds offers `--rate` orders a second in the
benchmark's mix (`bench.saga_bench.MIX`), at most `--in-flight` at a time
(above that the rate waits), while `bench.chaos` kills a random process at
random intervals and restarts it after a random delay. Each order is posted
with an `Idempotency-Key`; a connection error, a 5xx, a 409 (the key's first
request still in flight) or a 429 is retried with the same key and body, so a
fault neither loses an order nor makes a second one. Every order id goes into
the audit's `Ledger`.

When the load stops the fault loop stops (what is down comes back first); the
soak waits until every order is final or `--drain` seconds pass, then audits
(`tests/faults/audit.py`) and reports faults by kind, sagas completed and
rejected, `recovery_s` (from the last fault's kill to the last order turning
final), orders stuck and the audit's problems. It writes `soak.json` (with the
faults as injected: `--replay` runs that sequence again) into `--out`; its last
line of output is one JSON object. Exit status 1 unless the audit is clean,
no order is stuck and every order was placed.

The seed (printed first; random unless `--seed`) fixes the faults, their gaps
and downtimes, and the order mix: the same seed replays the same sequence.
What it cannot replay is the system's own timing: where in a saga each kill lands.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.chaos import KINDS, Chaos, plan, replay
from bench.saga_bench import MIX, PRICE, Fixture, SlotClock, order_body, setup
from tests.e2e.stack import DEADLETTERS_APP, ROOT, RUNTIMES, Stack, make_stack
from tests.faults.audit import FINAL, Ledger, audit

RETRIED = (409, 429)  # the key's first request still in flight; too many requests
GAP_S = (2.0, 8.0)  # between a fault's recovery and the next kill
DOWN_S = (0.5, 5.0)  # how long a killed process stays down


@dataclass
class Outcome:
    n: int
    kind: str
    order_id: int | None = None  # None: never placed
    status: str = "unplaced"  # then pending, completed or rejected
    reason: str | None = None
    create_retries: int = 0
    final_s: float | None = None  # when the order was seen final, seconds since the load began
    refused: str | None = None  # an answer no retry can change (a 4xx): a bug, reported


class Load:
    """Orders at a steady rate; each one retried until placed, then watched until final."""

    def __init__(self, http: aiohttp.ClientSession, fx: Fixture, slots: SlotClock, ledger: Ledger, seed: int):
        self.http, self.fx, self.slots, self.ledger = http, fx, slots, ledger
        self.rng = random.Random(seed)
        self.tag = f"{seed:x}-{random.randrange(16**6):06x}"  # keys unique per run, even for one seed
        self.outcomes: list[Outcome] = []
        self.t0 = time.monotonic()

    async def request(self, method: str, path: str, seconds: float, **kwargs: Any) -> tuple[int, Any]:
        """Status and JSON body; 0 and the error when there was no answer (a process down)."""
        try:
            async with self.http.request(
                method, path, timeout=aiohttp.ClientTimeout(total=seconds), **kwargs
            ) as r:
                text = await r.text()
                try:
                    return r.status, json.loads(text)
                except ValueError:
                    return r.status, text
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, repr(exc)

    def next_order(self, n: int) -> tuple[Outcome, dict[str, Any]]:
        """The nth order of the mix, as `bench.saga_bench.client` makes it (drawn from the seed)."""
        kinds, weights = list(MIX), [w for w, _, _ in MIX.values()]
        kind = self.rng.choices(kinds, weights)[0]
        fx = self.fx
        login, product, quantity, slot = fx.rich[n % len(fx.rich)], self.rng.choice(fx.products), 1, None
        if kind == "poor":
            login = fx.poor
        elif kind == "short":
            product, quantity = fx.scarce, 2
        elif kind == "no_courier":
            slot = self.rng.choice(fx.taken_slots)
        return Outcome(n, kind), order_body(login, product, quantity, PRICE, slot or self.slots.next())

    async def order(self, outcome: Outcome, body: dict[str, Any]) -> None:
        headers = {"Idempotency-Key": f"soak-{self.tag}-{outcome.n}"}
        pause = 0.2
        while True:
            status, answer = await self.request("POST", "/orders/", 30, json=body, headers=headers)
            if status in (200, 201):
                break
            if status and status < 500 and status not in RETRIED:
                outcome.refused = f"{status} {str(answer)[:200]}"
                return
            outcome.create_retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)
        outcome.order_id = int(answer["id"])
        outcome.status = "pending"
        self.ledger.order(outcome.order_id)
        while True:
            status, answer = await self.request("GET", f"/orders/{outcome.order_id}", 45, params={"wait": 30})
            if status == 200 and answer["status"] in FINAL:
                outcome.status, outcome.reason = answer["status"], answer.get("reason")
                outcome.final_s = time.monotonic() - self.t0
                return
            if status != 200:
                await asyncio.sleep(0.5)  # an error answers at once: do not spin

    async def run(self, rate: float, in_flight: int, seconds: float) -> list[asyncio.Task[None]]:
        """Offer `rate` orders a second for `seconds`; the orders' tasks, still watching."""
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(in_flight)
        tasks: list[asyncio.Task[None]] = []
        start = loop.time()
        due = start
        n = 0
        while loop.time() < start + seconds:
            try:  # back-pressure: the rate waits while `in_flight` are open, never past the end
                async with asyncio.timeout(max(0.0, start + seconds - loop.time())):
                    await slots.acquire()
            except TimeoutError:
                break
            outcome, body = self.next_order(n)
            self.outcomes.append(outcome)
            task = asyncio.create_task(self.order(outcome, body))
            task.add_done_callback(lambda _: slots.release())
            tasks.append(task)
            n += 1
            due = max(due + 1 / rate, loop.time())  # fell behind (at the cap): no burst to catch up
            await asyncio.sleep(due - loop.time())
        return tasks


async def soak(stack: Stack, chaos: Chaos, args: argparse.Namespace, load_seed: int) -> dict[str, Any]:
    ledger, slots = Ledger(), SlotClock()
    connector = aiohttp.TCPConnector(limit=args.in_flight + 8)
    async with aiohttp.ClientSession(stack.url, connector=connector) as http:
        fx = await setup(http, args.in_flight, ledger, slots)
        load = Load(http, fx, slots, ledger, load_seed)
        chaos.start()
        load.t0 = chaos.t0
        tasks = await load.run(args.rate, args.in_flight, args.duration)
        load_s = time.monotonic() - load.t0
        chaos.stop.set()
        await asyncio.to_thread(chaos.idle.wait)
        print(f"soak: load over after {load_s:.0f}s; waiting for every order to be final", file=sys.stderr)
        _, waiting = await asyncio.wait(tasks, timeout=args.drain) if tasks else (set(), set())
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    report = await audit(stack.url, ledger, stack.app_url(DEADLETTERS_APP), settle_seconds=5)
    print(report, file=sys.stderr)

    outcomes = load.outcomes
    stuck = [o.order_id for o in outcomes if o.status == "pending"]
    unplaced = [o.n for o in outcomes if o.status == "unplaced"]
    last_fault = max((f.killed_s for f in chaos.injected), default=None)
    last_final = max((o.final_s for o in outcomes if o.final_s is not None), default=None)
    recovery = (
        None if last_fault is None or last_final is None else round(max(0.0, last_final - last_fault), 1)
    )
    sagas = Counter(o.status for o in outcomes if o.status in FINAL)
    return {
        "runtime": stack.runtime,
        "duration_s": round(load_s, 1),
        "seed": args.seed,
        "faults": chaos.counts(),
        "sagas": {"completed": sagas["completed"], "rejected": sagas["rejected"]},
        "stuck": len(stuck) + len(unplaced),  # never final, whether created or never accepted
        "audit_ok": report.ok,
        "recovery_s": recovery,
        # the rest is in soak.json only
        "offered": len(outcomes),
        "rate": args.rate,
        "unplaced": len(unplaced),
        "refused": [f"order #{o.n}: {o.refused}" for o in outcomes if o.refused][:20],
        "stuck_orders": stuck[:50],
        "create_retries": sum(o.create_retries for o in outcomes),
        "outcomes": dict(Counter(f"{o.kind}: {o.status} {o.reason or ''}".strip() for o in outcomes)),
        "audit_problems": report.problems[:50],
        "chaos_error": repr(chaos.error) if chaos.error else None,
        "injected": chaos.record(),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }


HEADLINE = ("runtime", "duration_s", "seed", "faults", "sagas", "stuck", "audit_ok", "recovery_s")


def passed(results: dict[str, Any]) -> bool:
    return bool(results["audit_ok"]) and results["stuck"] == 0 and results["unplaced"] == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runtime", choices=RUNTIMES, default="localdapr")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load and faults")
    parser.add_argument("--seed", type=int, help="replays a run's faults and order mix (default: random)")
    parser.add_argument("--rate", type=float, default=5.0, help="orders offered per second")
    parser.add_argument("--in-flight", type=int, default=32, help="orders open at once, at most")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds the orders get to become final")
    parser.add_argument("--replay", type=Path, help="a soak.json: run its injected faults as they were")
    parser.add_argument("--out", type=Path, help="where soak.json goes (default reports/soak[-dapr])")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs, data)")
    args = parser.parse_args(argv)
    faults = None
    if args.replay:
        recorded = json.loads(args.replay.read_text())
        faults = replay(recorded["injected"])
        if args.seed is None:
            args.seed = recorded["seed"]
    seed = args.seed = args.seed if args.seed is not None else random.randrange(2**31)
    out = args.out or ROOT / "reports" / ("soak-dapr" if args.runtime == "dapr" else "soak")
    kinds = ", ".join(KINDS[args.runtime])
    print(f"soak: seed {seed} ({args.runtime}, {args.duration:.0f}s; faults: {kinds})")
    print(
        f"soak: replay with --seed {seed} --runtime {args.runtime} --duration {args.duration:.0f}", flush=True
    )

    workdir = Path(tempfile.mkdtemp(prefix="saga-soak-"))
    stack = make_stack(args.runtime, workdir, deadletters=True)
    # One seed, two streams: the faults' draws never depend on how many orders were made.
    master = random.Random(seed)
    fault_rng, load_seed = random.Random(master.getrandbits(64)), master.getrandbits(64)
    chaos = Chaos(
        stack,
        faults if faults is not None else plan(stack, fault_rng, GAP_S, DOWN_S),
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    results: dict[str, Any] | None = None
    try:
        stack.start()
        results = asyncio.run(soak(stack, chaos, args, load_seed))
    finally:
        ok = results is not None and passed(results)
        if not ok:
            print(stack.logs(), file=sys.stderr)
        chaos.stop.set()
        chaos.idle.wait(120)  # a restart under way finishes before the stack stops
        stack.stop()
        chaos.release.set()
        if args.keep or not ok:
            print(f"soak: stack directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: results[k] for k in HEADLINE}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
