"""Faults for `bench.soak`: `kill -9` a random process of a running stack, restart it later.

One loop, one fault at a time: wait a random gap, pick a kind and a process of
that kind, `kill -9` it, leave it down a random while, start it again and wait
until it is ready (its port, its health check), then the next gap. Kinds:

- localdapr runtime: `app` (one of the four saga apps) and `localdapr` (the one
  process that serves every sidecar and the gateway; it keeps its data dir);
- dapr runtime: `app`, `daprd` (one app's sidecar), `placement`, `scheduler`,
  `postgres` (the postmaster; its backends follow) and `redis`, each restarted
  on the same port with the same data.

Every choice comes from one `random.Random(seed)`, in a fixed order, so a seed
replays the same sequence of faults; how the system happens to be timed when
each one lands is not replayed (`replay` runs a recorded sequence as-is).
The audit's dead-letter subscriber is never killed: it is the audit's witness.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from tests.e2e.stack import DEADLETTERS_APP, DaprStack, Stack

RESTART_ATTEMPTS = 10
KINDS = {
    "localdapr": ("app", "localdapr"),
    "dapr": ("app", "daprd", "placement", "scheduler", "postgres", "redis"),
}


@dataclass(frozen=True)
class Fault:
    """One planned fault: wait `gap_s`, kill `target` (of `kind`), restart it after `down_s`."""

    kind: str
    target: str
    gap_s: float
    down_s: float


@dataclass
class Injected:
    """A fault as it happened (wall-clock times, UTC ISO 8601; seconds since the loop began)."""

    kind: str
    target: str
    gap_s: float
    down_s: float
    killed_at: str
    ready_at: str
    killed_s: float
    ready_s: float


def targets(stack: Stack, kind: str) -> list[str]:
    if kind in ("app", "daprd"):
        return [a for a in stack.apps if a != DEADLETTERS_APP]
    return [kind]


def plan(
    stack: Stack, rng: random.Random, gap: tuple[float, float], down: tuple[float, float]
) -> Iterable[Fault]:
    """Faults without end. The kinds come in shuffled rounds, so every kind is hit once per
    round however short the run; the process, the gap and the downtime are drawn per fault."""
    kinds = list(KINDS[stack.runtime])
    while True:
        rng.shuffle(kinds)
        for kind in kinds:
            yield Fault(kind, rng.choice(targets(stack, kind)), rng.uniform(*gap), rng.uniform(*down))


def kill(stack: Stack, fault: Fault) -> None:
    if fault.kind == "app":
        stack.kill_app(fault.target)
    elif fault.kind == "localdapr":
        stack.kill_sidecars()  # one process serves every sidecar and the gateway
    elif fault.kind == "daprd":
        _dapr(stack).kill_sidecar(fault.target)
    else:
        _dapr(stack).kill_server(fault.kind)


def restart(stack: Stack, fault: Fault) -> None:
    """Start the process again and wait until it is ready."""
    if fault.kind == "app":
        stack.start_app(fault.target)
    elif fault.kind == "localdapr":
        stack.start_sidecars()
    elif fault.kind == "daprd":
        _dapr(stack).start_sidecar(fault.target)
    else:
        _dapr(stack).start_server(fault.kind)


def _dapr(stack: Stack) -> DaprStack:
    assert isinstance(stack, DaprStack), "this kind of fault needs the real Dapr runtime"
    return stack


class Chaos:
    """The fault loop, in a thread of its own (`start`), until `stop` is set; `idle` is set
    once it has stopped with everything up again.

    The processes it restarts die with the thread that started them (`die_with_parent`:
    PR_SET_PDEATHSIG follows the forking thread), so the thread stays parked after the
    loop, until `release` is set once the stack has been stopped."""

    def __init__(
        self,
        stack: Stack,
        faults: Iterable[Fault],
        log: Callable[[str], None] = print,
    ) -> None:
        self.stack = stack
        self.faults = iter(faults)
        self.log = log
        self.injected: list[Injected] = []
        self.stop, self.idle, self.release = threading.Event(), threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.t0 = time.monotonic()

    def start(self) -> None:
        self.t0 = time.monotonic()
        threading.Thread(target=self._thread, name="chaos", daemon=True).start()

    def _thread(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the soak: a process that would not come back
            self.error = exc
            self.log(f"chaos: stopped by {exc!r}")
        self.idle.set()
        self.release.wait()

    def _run(self) -> None:
        for fault in self.faults:
            if self.stop.wait(fault.gap_s):
                return
            killed_s, killed_at = time.monotonic() - self.t0, _now()
            kill(self.stack, fault)
            self.log(f"chaos {killed_s:7.1f}s: kill -9 {fault.kind} {fault.target}, down {fault.down_s:.1f}s")
            time.sleep(fault.down_s)  # even when asked to stop: what is down comes back up
            self._restart(fault)
            ready_s = time.monotonic() - self.t0
            self.injected.append(
                Injected(
                    fault.kind, fault.target, fault.gap_s, fault.down_s, killed_at, _now(), killed_s, ready_s
                )
            )
            self.log(f"chaos {ready_s:7.1f}s: {fault.kind} {fault.target} ready again")

    def _restart(self, fault: Fault) -> None:
        """Restart, and if that fails, clear what half came up and try again: the stack's ports
        are in the kernel's ephemeral range, so while a process is down another process's
        outgoing connection may hold its port for a moment (localdapr then refuses to start)."""
        for attempt in range(1, RESTART_ATTEMPTS + 1):
            try:
                restart(self.stack, fault)
                return
            except Exception as exc:
                if attempt == RESTART_ATTEMPTS:
                    raise
                self.log(f"chaos: restarting {fault.kind} {fault.target} failed ({exc}); trying again")
                kill(self.stack, fault)
                time.sleep(1)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS[self.stack.runtime], 0)
        for fault in self.injected:
            out[fault.kind] += 1
        return out

    def record(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self.injected]


def replay(faults: Iterable[dict[str, Any]]) -> list[Fault]:
    """A recorded sequence (`Fault` fields, as `soak.json`'s `plan` holds them), run as-is."""
    return [Fault(f["kind"], f["target"], float(f["gap_s"]), float(f["down_s"])) for f in faults]


def _now() -> str:
    return datetime.now(UTC).isoformat()
