"""What a saga's shape costs daprd's workflow engine, before any saga logic runs.

Issue 19 asks whether fewer turns, timers and raised events per saga would cut
the engine's CPU, and how low a saga's CPU can go on this runtime. This runs
bare workflows on real daprd 1.18.2 (Postgres state store, placement,
scheduler, the project's `config.yaml` with its retention policy), in turns,
and sums the CPU of every process per workflow:

- `replies`: the saga's first shape: 3 steps, each an activity that sends a
  command, then a wait with a timeout for the reply, which a client raises;
- `activities`: the same 3 steps with no reply: the activity's result is the
  answer (as if the activity invoked the participant and got its reply);
- `floor`: the saga's shape today with every Dapr call it makes and nothing
  else. The client writes the order record, then starts the workflow. Two
  activities: the first writes the record and invokes two commands, the
  second writes the record and invokes one. A participant
  (`bench.engine_peer`, a bare ASGI app behind its own daprd) writes each
  command to its store. No HTTP API, no domain code, one participant for three.

The activities of the first two do nothing else, so the difference between
them is the engine's own cost; `floor` is what a saga of this design costs
on this runtime before any of the project's own code runs.

    make bench-engine    # .venv/bin/python -m bench.engine_cost --workflows 400 --clients 16 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
import httpx
from dapr_runtime.processes import Managed, listening
from dapr_runtime.system import DaprSystem
from localdapr.runner import free_port

from bench.saga_bench import cpu_by_name, pct
from tests.e2e.stack import ROOT

APP_ID = "engine"
PEER = "peer"  # the floor's participant
SHAPES = ("replies", "activities", "floor")
STEPS = 3
STORE = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.postgresql
  version: v1
  metadata:
    - name: connectionString
      value: "host=localhost user=postgres password=postgres port=5432 database=engine"
    - name: actorStateStore
      value: "true"
scopes: [engine]
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: peerstore
spec:
  type: state.postgresql
  version: v1
  metadata:
    - name: connectionString
      value: "host=localhost user=postgres password=postgres port=5432 database=peer"
scopes: [peer]
"""
UVICORN = ("--loop", "uvloop", "--http", "httptools", "--no-access-log")  # as the apps run
# A record of about 0.6 KB; the saga's order record, as its API shows it, is about 1.2 KB.
RECORD = {"status": "pending", "items": [{"product": "p-1", "units": 2}] * 3, "steps": {}, "note": "x" * 400}


class Sidecar:
    """The floor's Dapr calls, through the engine app's daprd (thread-safe, kept alive)."""

    def __init__(self, http_port: int) -> None:
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=30)

    def save(self, order: str, status: str) -> None:
        record = RECORD | {"status": status}
        self.http.post("/v1.0/state/statestore", json=[{"key": order, "value": record}]).raise_for_status()

    def invoke(self, order: str, command: str) -> None:
        self.http.post(f"/v1.0/invoke/{PEER}/method/saga/{command}", json={"order": order}).raise_for_status()


def build_runtime(
    grpc_port: int, raise_reply: Callable[[str, int], None], sidecar: Sidecar
) -> wf.WorkflowRuntime:
    runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(grpc_port))

    def send(ctx: wf.WorkflowActivityContext, step: int) -> int:
        return step

    def send_and_reply(ctx: wf.WorkflowActivityContext, step: int) -> int:
        # The participant answers a moment after the command, as over the broker.
        threading.Timer(0.02, raise_reply, (ctx.workflow_id, step)).start()
        return step

    def activities(ctx: wf.DaprWorkflowContext, _: Any) -> Generator[Any, Any, int]:
        for step in range(STEPS):
            yield ctx.call_activity(send, input=step)
        return STEPS

    def replies(ctx: wf.DaprWorkflowContext, _: Any) -> Generator[Any, Any, int]:
        for step in range(STEPS):
            yield ctx.call_activity(send_and_reply, input=step)
            yield ctx.wait_for_external_event(f"reply-{step}", timeout=timedelta(seconds=30))
        return STEPS

    def reserve(ctx: wf.WorkflowActivityContext, order: str) -> None:
        sidecar.save(order, "reserving")
        sidecar.invoke(order, "reserve-stock")
        sidecar.invoke(order, "reserve-courier")

    def charge(ctx: wf.WorkflowActivityContext, order: str) -> None:
        sidecar.save(order, "completed")
        sidecar.invoke(order, "charge")

    def floor(ctx: wf.DaprWorkflowContext, order: str) -> Generator[Any, Any, int]:
        yield ctx.call_activity(reserve, input=order)
        yield ctx.call_activity(charge, input=order)
        return 2

    for step_fn in (send, send_and_reply, reserve, charge):
        runtime.register_activity(step_fn, name=step_fn.__name__)
    for workflow in (activities, replies, floor):
        runtime.register_workflow(workflow, name=workflow.__name__)
    return runtime


@dataclass
class Engine:
    """The runtime, and the floor's participant app behind its own sidecar."""

    system: DaprSystem
    peer: Managed

    def cpu_by_process(self) -> dict[str, float]:
        pids = {m.name: m.pid for m in [*self.system.processes(), self.peer] if m.pid}
        return cpu_by_name(pids, "python (worker + clients)")


def run_shape(
    client: wf.DaprWorkflowClient, engine: Engine, shape: str, n: int, clients: int, sidecar: Sidecar
) -> dict[str, Any]:
    latencies: list[float] = []

    def one(i: int) -> None:
        t = time.monotonic()
        iid = f"{shape}-{os.getpid()}-{time.time_ns()}-{i}"
        if shape == "floor":  # the order app records the order before it starts the saga
            sidecar.save(iid, "pending")
        client.schedule_new_workflow(shape, instance_id=iid, input=iid)
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=120)
        assert state is not None and state.runtime_status.name == "COMPLETED", (iid, state)
        latencies.append(time.monotonic() - t)

    before, t0 = engine.cpu_by_process(), time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(n)))
    after, elapsed = engine.cpu_by_process(), time.monotonic() - t0
    per = {k: round(1000 * (after[k] - before.get(k, 0)) / n, 1) for k in after}
    return {
        "shape": shape,
        "workflows": n,
        "per_s": round(n / elapsed, 1),
        "p50_ms": round(1000 * pct(latencies, 50)),
        "p95_ms": round(1000 * pct(latencies, 95)),
        "cpu_ms_per_workflow": round(sum(per.values()), 1),
        "cpu_ms_by_process": per,
    }


@contextlib.contextmanager
def started(workdir: Path) -> Iterator[Engine]:
    resources = workdir / "components"
    resources.mkdir(parents=True)
    (resources / "statestore.yaml").write_text(STORE)
    peer_port = free_port()
    system = DaprSystem(
        workdir / "dapr", [resources], {APP_ID: None, PEER: peer_port}, config=ROOT / "config.yaml"
    )
    peer = Managed(
        "peer app",
        [sys.executable, "-m", "uvicorn", "bench.engine_peer:app", "--port", str(peer_port), *UVICORN],
        workdir / "peer.log",
        cwd=ROOT,
    )
    system.start()
    try:
        peer.env = {**os.environ, "DAPR_HTTP_PORT": str(system.sidecars[PEER].http_port)}
        peer.start()
        peer.wait_until(listening(peer_port), "the peer app")
        for app_id in (APP_ID, PEER):
            system.start_sidecar(app_id)
            system.sidecars[app_id].wait_healthy()
        yield Engine(system, peer)
    finally:
        system.stop()
        peer.stop(grace=5)


def measure(
    workdir: Path, workflows: int, clients: int, rounds: int, shapes: tuple[str, ...] = SHAPES
) -> list[dict[str, Any]]:
    """Each shape `rounds` times, in turns, after a warm-up; one result per run."""
    with started(workdir) as engine:
        grpc_port = engine.system.sidecars[APP_ID].grpc_port
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(grpc_port))
        sidecar = Sidecar(engine.system.sidecars[APP_ID].http_port)

        def reply(iid: str, step: int) -> None:
            client.raise_workflow_event(iid, f"reply-{step}")

        runtime = build_runtime(grpc_port, reply, sidecar)
        runtime.start()
        assert runtime.wait_for_worker_ready(timeout=30)
        try:
            for shape in shapes:  # warm-up: connections, tables, caches
                run_shape(client, engine, shape, 20, 4, sidecar)
            results = []
            for _ in range(rounds):
                for shape in shapes:
                    result = run_shape(client, engine, shape, workflows, clients, sidecar)
                    print(json.dumps(result), file=sys.stderr)
                    results.append(result)
            return results
        finally:
            runtime.shutdown()
            client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--workflows", type=int, default=400, help="workflows per shape and round")
    parser.add_argument("--clients", type=int, default=16, help="workflows in flight")
    parser.add_argument("--rounds", type=int, default=3, help="each shape this many times, in turns")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES), help="which shapes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="engine-cost-") as tmp:
        results = measure(Path(tmp), args.workflows, args.clients, args.rounds, tuple(args.shapes))
    print(json.dumps({"machine": {"cpus": os.cpu_count()}, "results": results}))


if __name__ == "__main__":
    main()
