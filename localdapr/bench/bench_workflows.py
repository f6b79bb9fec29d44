"""Benchmark: three-activity workflows through the real Dapr SDK against localdapr.

Starts `python -m localdapr run -f` on a fresh data directory, W worker
processes running a `WorkflowRuntime`, and C starter threads that each
schedule a workflow and wait for its completion, N workflows in all. Prints
workflows/s and latency percentiles, then one line of JSON.

    .venv/bin/python localdapr/bench/bench_workflows.py -n 2000 -c 64 -w 1

With --chaos it also kills a worker and then localdapr with SIGKILL mid-run (a
new worker takes over, localdapr restarts on the same data) and checks that
every workflow still completes with the right result; the CPU figures then only
cover the processes alive at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

WORKFLOW = "bench_three_steps"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_worker(port: int) -> None:
    """Worker mode: register the workflow and its activities, serve until stdin closes."""
    import dapr.ext.workflow as wf

    runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(port))

    @runtime.activity(name="bench_step")
    def step(ctx: object, value: int) -> int:
        return value + 1

    @runtime.workflow(name=WORKFLOW)
    def three_steps(ctx: wf.DaprWorkflowContext, value: int):
        value = yield ctx.call_activity(step, input=value)
        value = yield ctx.call_activity(step, input=value)
        value = yield ctx.call_activity(step, input=value)
        return value

    runtime.start()
    runtime.wait_for_worker_ready(timeout=30)
    print("ready", flush=True)
    sys.stdin.read()  # the benchmark closes our stdin to stop us
    runtime.shutdown()


def wait_healthy(http_port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v1.0/healthz", timeout=1) as r:
                if r.status == 204:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("localdapr did not become healthy")


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU time of a process so far (Linux), to show who is the bottleneck."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def percentile(sorted_values: list[float], p: float) -> float:
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def retrying(call: Callable[[], T], created_ok: bool = False) -> T | None:
    """Retry a call while the sidecar is down (chaos mode); ALREADY_EXISTS means our earlier
    attempt did create the instance before the connection broke."""
    import grpc

    while True:
        try:
            return call()
        except grpc.RpcError as exc:
            if created_ok and exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                return None
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN):
                raise
            time.sleep(0.2)


def run_batch(
    client: object, count: int, concurrency: int, prefix: str, chaos: bool = False
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(count))
    errors: list[BaseException] = []

    def starter() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t0 = time.perf_counter()
            iid = f"{prefix}-{i}"
            try:
                if chaos:
                    retrying(lambda: client.schedule_new_workflow(WORKFLOW, input=i, instance_id=iid), True)  # type: ignore[attr-defined]  # noqa: B023
                    state = retrying(lambda: client.wait_for_workflow_completion(iid, timeout_in_seconds=120))  # type: ignore[attr-defined]  # noqa: B023
                else:
                    client.schedule_new_workflow(WORKFLOW, input=i, instance_id=iid)  # type: ignore[attr-defined]
                    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=120)  # type: ignore[attr-defined]
                assert state is not None and state.serialized_output == str(i + 3), state
            except BaseException as exc:
                errors.append(exc)
                return
            with lock:
                latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=starter) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} workflow(s) failed, first: {errors[0]!r}")
    return elapsed, latencies


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--workflows", type=int, default=2000)
    parser.add_argument("-c", "--concurrency", type=int, default=64, help="concurrent starters")
    parser.add_argument("-w", "--workers", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--chaos",
        action="store_true",
        help="kill -9 a worker, then localdapr, during the run; every workflow must still complete",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    parser.add_argument("--worker", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="bench-workflows-"))
    grpc_port, http_port = free_port(), free_port()
    (workdir / "dapr.yaml").write_text(
        f"version: 1\napps:\n  - appID: bench\n    appDirPath: {workdir}\n"
        f"    daprGRPCPort: {grpc_port}\n    daprHTTPPort: {http_port}\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start_sidecar() -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "localdapr", "run", "-f", str(workdir / "dapr.yaml")]
        return subprocess.Popen(
            [*cmd, "--data-dir", str(workdir / "data")],
            stdout=open(workdir / "localdapr.log", "ab"),
            stderr=subprocess.STDOUT,
            env=env,
        )

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, __file__, "--worker", str(grpc_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(workdir / "worker.log", "ab"),
            env=env,
        )

    def ready(w: subprocess.Popen[bytes]) -> None:
        assert w.stdout is not None and w.stdout.readline().strip() == b"ready", "worker did not start"

    sidecar = start_sidecar()
    workers: list[subprocess.Popen[bytes]] = []

    def chaos() -> None:
        """kill -9 the first worker (a fresh one takes over), then localdapr (restarted)."""
        nonlocal sidecar
        time.sleep(1.0)
        workers[0].kill()
        print("chaos: killed worker 1 with SIGKILL", flush=True)
        workers.append(start_worker())
        ready(workers[-1])
        time.sleep(1.0)
        sidecar.kill()
        sidecar.wait()
        print("chaos: killed localdapr with SIGKILL", flush=True)
        sidecar = start_sidecar()
        wait_healthy(http_port)
        print("chaos: localdapr restarted", flush=True)

    try:
        wait_healthy(http_port)
        workers.extend(start_worker() for _ in range(args.workers))
        for w in workers:
            ready(w)

        from dapr.ext.workflow import DaprWorkflowClient

        client = DaprWorkflowClient(host="127.0.0.1", port=str(grpc_port))
        run_batch(client, min(50, args.workflows), min(8, args.concurrency), "warmup")
        measured = [sidecar, *workers]  # chaos replaces some: their figures come out as None
        cpu_before = [cpu_seconds(p.pid) for p in measured]
        client_before = sum(os.times()[:2])
        chaos_thread = threading.Thread(target=chaos) if args.chaos else None
        if chaos_thread:
            chaos_thread.start()
        elapsed, latencies = run_batch(client, args.workflows, args.concurrency, "run", args.chaos)
        if chaos_thread:
            chaos_thread.join()
        client_cpu = round(sum(os.times()[:2]) - client_before, 2)
        cpu_after = [cpu_seconds(p.pid) if p.poll() is None else None for p in measured]
        cpu = [
            round(a - b, 2) if a is not None and b is not None else None
            for a, b in zip(cpu_after, cpu_before, strict=True)
        ]
        latencies.sort()
        result = {
            "workflows": args.workflows,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "seconds": round(elapsed, 3),
            "workflows_per_s": round(args.workflows / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
            "sidecar_cpu_s": cpu[0],
            "worker_cpu_s": cpu[1:],
            "client_cpu_s": client_cpu,
            "chaos": args.chaos,
        }
        print(
            f"{args.workflows} three-activity workflows, {args.concurrency} starters, "
            f"{args.workers} worker(s): {result['workflows_per_s']} workflows/s in {result['seconds']} s"
        )
        print(f"latency p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms")
        print(f"CPU during the run: localdapr {cpu[0]} s, worker(s) {cpu[1:]} s, starters {client_cpu} s")
        print(json.dumps(result))
        client.close()
        return 0
    finally:
        for w in workers:
            if w.stdin:
                w.stdin.close()
        for w in workers:
            try:
                w.wait(15)
            except subprocess.TimeoutExpired:
                w.kill()
        sidecar.terminate()
        try:
            sidecar.wait(15)
        except subprocess.TimeoutExpired:
            sidecar.kill()
        if args.keep:
            print(f"data and logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
