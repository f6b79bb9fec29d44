"""What a saga's shape costs daprd's workflow engine, before any saga logic runs.

Issue 19 asks whether fewer turns, timers and raised events per saga would cut
the engine's CPU. This runs two bare workflows on real daprd 1.18.2 (Postgres
state store, placement, scheduler), in turns, and sums the CPU of every
process per workflow:

- `replies`: the saga's shape today: 3 steps, each an activity that sends a
  command, then a wait with a timeout for the reply, which a client raises;
- `activities`: the same 3 steps with no reply: the activity's result is the
  answer (as if the activity invoked the participant and got its reply).

The activities do nothing else, so the difference is the engine's own cost.

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
from datetime import timedelta
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
from dapr_runtime.system import DaprSystem

from bench.saga_bench import cpu_by_name, pct

APP_ID = "engine"
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
"""


def build_runtime(grpc_port: int, raise_reply: Callable[[str, int], None]) -> wf.WorkflowRuntime:
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

    for step_fn in (send, send_and_reply):
        runtime.register_activity(step_fn, name=step_fn.__name__)
    for workflow in (activities, replies):
        runtime.register_workflow(workflow, name=workflow.__name__)
    return runtime


def cpu_by_process(system: DaprSystem) -> dict[str, float]:
    pids = {m.name: m.pid for m in system.processes() if m.pid}
    return cpu_by_name(pids, "python (worker + clients)")


def run_shape(
    client: wf.DaprWorkflowClient, system: DaprSystem, shape: str, n: int, clients: int
) -> dict[str, Any]:
    latencies: list[float] = []

    def one(i: int) -> None:
        t = time.monotonic()
        iid = client.schedule_new_workflow(shape, instance_id=f"{shape}-{os.getpid()}-{time.time_ns()}-{i}")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=120)
        assert state is not None and state.runtime_status.name == "COMPLETED", (iid, state)
        latencies.append(time.monotonic() - t)

    before, t0 = cpu_by_process(system), time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(n)))
    after, elapsed = cpu_by_process(system), time.monotonic() - t0
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
def engine(workdir: Path) -> Iterator[DaprSystem]:
    resources = workdir / "components"
    resources.mkdir(parents=True)
    (resources / "statestore.yaml").write_text(STORE)
    system = DaprSystem(workdir / "dapr", [resources], {APP_ID: None})
    system.start()
    try:
        system.start_sidecar(APP_ID)
        system.sidecars[APP_ID].wait_healthy()
        yield system
    finally:
        system.stop()


def measure(workdir: Path, workflows: int, clients: int, rounds: int) -> list[dict[str, Any]]:
    """Each shape `rounds` times, in turns, after a warm-up; one result per run."""
    with engine(workdir) as system:
        grpc_port = system.sidecars[APP_ID].grpc_port
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(grpc_port))

        def reply(iid: str, step: int) -> None:
            client.raise_workflow_event(iid, f"reply-{step}")

        runtime = build_runtime(grpc_port, reply)
        runtime.start()
        assert runtime.wait_for_worker_ready(timeout=30)
        try:
            run_shape(client, system, "replies", 20, 4)  # warm-up: connections, tables, caches
            run_shape(client, system, "activities", 20, 4)
            results = []
            for _ in range(rounds):
                for shape in ("replies", "activities"):
                    result = run_shape(client, system, shape, workflows, clients)
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="engine-cost-") as tmp:
        results = measure(Path(tmp), args.workflows, args.clients, args.rounds)
    print(json.dumps({"machine": {"cpus": os.cpu_count()}, "results": results}))


if __name__ == "__main__":
    main()
