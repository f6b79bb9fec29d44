"""Benchmark localdapr's state API through the real async Dapr SDK.

Starts `python -m localdapr run -f <generated run file>` with one sidecar and a
`state.postgresql` component (stored in SQLite by localdapr), then runs a mix
of SaveState / GetState / ExecuteStateTransaction calls from C concurrent
`dapr.aio` clients (optionally spread over P client processes) until N
operations are done. Prints ops/s and latency percentiles, and a final JSON
line for scripts.

    .venv/bin/python localdapr/bench/bench_state.py --ops 20000 --concurrency 16 --procs 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

COMPONENT = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.postgresql
  version: v1
  metadata:
    - name: connectionString
      value: "host=localhost database=bench"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_localdapr(workdir: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    grpc_port, http_port = free_port(), free_port()
    (workdir / "resources").mkdir()
    (workdir / "resources" / "statestore.yaml").write_text(COMPONENT)
    (workdir / "dapr.yaml").write_text(
        json.dumps(  # JSON is YAML
            {
                "version": 1,
                "common": {"resourcesPath": str(workdir / "resources")},
                "apps": [
                    {
                        "appID": "bench",
                        "appDirPath": str(workdir),
                        "daprGRPCPort": grpc_port,
                        "daprHTTPPort": http_port,
                    }
                ],
            }
        )
    )
    log = open(workdir / "localdapr.log", "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localdapr",
            "run",
            "-f",
            str(workdir / "dapr.yaml"),
            "--data-dir",
            str(workdir / "data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{http_port}/v1.0/healthz", timeout=1).status_code == 204:
                return proc, grpc_port, http_port
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"localdapr did not become healthy; see {workdir / 'localdapr.log'}")


async def _client_worker(
    address: str, http_port: int, ops: int, concurrency: int, seed: int, mix: dict[str, float]
) -> dict:
    # The SDK's constructor polls {DAPR_HTTP_PORT}/v1.0/healthz/outbound; settings are read at import.
    os.environ["DAPR_HTTP_PORT"] = str(http_port)
    from dapr.aio.clients import DaprClient
    from dapr.conf import settings

    settings.DAPR_HTTP_PORT = http_port  # type: ignore[attr-defined]
    from dapr.clients.grpc._request import TransactionalStateOperation

    rng = random.Random(seed)
    latencies: dict[str, list[float]] = {"save": [], "get": [], "transaction": []}
    errors = 0
    remaining = ops
    keys = [f"k{seed}-{i}" for i in range(1000)]
    value = b"x" * 200

    async def worker(client: DaprClient) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            r = rng.random()
            kind = "save" if r < mix["save"] else "get" if r < mix["save"] + mix["get"] else "transaction"
            key = rng.choice(keys)
            t0 = time.perf_counter()
            try:
                if kind == "save":
                    await client.save_state("statestore", key, value)
                elif kind == "get":
                    await client.get_state("statestore", key)
                else:
                    await client.execute_state_transaction(
                        "statestore",
                        [
                            TransactionalStateOperation(key=key, data=value),
                            TransactionalStateOperation(key=rng.choice(keys), data=value),
                        ],
                    )
            except Exception:
                errors += 1
                continue
            latencies[kind].append(time.perf_counter() - t0)

    # A few SDK clients (gRPC channels) shared by the concurrent workers, as an app would.
    clients = [DaprClient(address=address) for _ in range(min(concurrency, 4))]
    try:
        await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(concurrency)))
    finally:
        for c in clients:
            await c.close()
    return {"latencies": latencies, "errors": errors}


def _run_client(args: tuple[str, int, int, int, int, dict[str, float]]) -> dict:
    return asyncio.run(_client_worker(*args))


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU time of a process (Linux /proc), to see which side is busy."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=20000, help="total operations (N)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent in-flight calls in total (C)")
    parser.add_argument("--procs", type=int, default=1, help="client processes sharing the load")
    parser.add_argument("--save", type=float, default=0.45, help="share of SaveState")
    parser.add_argument("--get", type=float, default=0.45, help="share of GetState (the rest: transactions)")
    parser.add_argument("--address", help="benchmark an already running sidecar (host:grpc-port) instead")
    parser.add_argument("--http-port", type=int, default=3500, help="that sidecar's HTTP port")
    args = parser.parse_args()
    mix = {"save": args.save, "get": args.get}

    proc = None
    with tempfile.TemporaryDirectory(prefix="bench-state-") as tmp:
        if args.address:
            address, http_port = args.address, args.http_port
        else:
            proc, grpc_port, http_port = start_localdapr(Path(tmp))
            address = f"127.0.0.1:{grpc_port}"
        try:
            per_proc = [
                (
                    address,
                    http_port,
                    args.ops // args.procs,
                    max(1, args.concurrency // args.procs),
                    seed,
                    mix,
                )
                for seed in range(args.procs)
            ]
            t0 = time.perf_counter()
            if args.procs == 1:
                results = [_run_client(per_proc[0])]
            else:
                with multiprocessing.get_context("spawn").Pool(args.procs) as pool:
                    results = pool.map(_run_client, per_proc)
            elapsed = time.perf_counter() - t0
            sidecar_cpu = cpu_seconds(proc.pid) if proc is not None else None
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()

    by_kind: dict[str, list[float]] = {"save": [], "get": [], "transaction": []}
    for r in results:
        for kind, values in r["latencies"].items():
            by_kind[kind].extend(values)
    every = [v for values in by_kind.values() for v in values]
    errors = sum(r["errors"] for r in results)
    # Children include the (waited-for) sidecar: take its share out.
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = sum(u.ru_utime + u.ru_stime for u in usage) - (sidecar_cpu or 0.0)
    done = len(every)
    summary = {
        "ops": done,
        "errors": errors,
        "concurrency": args.concurrency,
        "procs": args.procs,
        "seconds": round(elapsed, 3),
        "ops_per_s": round(done / elapsed, 1),
        "p50_ms": round(percentile(every, 50) * 1000, 3),
        "p95_ms": round(percentile(every, 95) * 1000, 3),
        "p99_ms": round(percentile(every, 99) * 1000, 3),
        "by_op": {
            k: {
                "n": len(v),
                "p50_ms": round(percentile(v, 50) * 1000, 3),
                "p99_ms": round(percentile(v, 99) * 1000, 3),
            }
            for k, v in by_kind.items()
        },
        "cpus": os.cpu_count(),
        "sidecar_cpu_s": None if sidecar_cpu is None else round(sidecar_cpu, 2),
        "client_cpu_s": round(client_cpu, 2),
    }
    print(
        f"{done} ops ({errors} errors) in {elapsed:.2f}s"
        f" with C={args.concurrency}, {args.procs} client process(es)"
    )
    print(f"throughput: {summary['ops_per_s']} ops/s")
    print(f"latency: p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms")
    for kind, stats in summary["by_op"].items():
        print(f"  {kind:<12} n={stats['n']:<6} p50 {stats['p50_ms']} ms  p99 {stats['p99_ms']} ms")
    if sidecar_cpu is not None:
        print(f"cpu: sidecar {sidecar_cpu:.2f}s, clients {client_cpu:.2f}s over {elapsed:.2f}s wall")
    print(json.dumps(summary))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
