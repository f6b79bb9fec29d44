"""End-to-end pub/sub throughput: publish through the SDK, count deliveries in the app.

Not a Dapr behaviour but a budget: the saga makes several pub/sub hops per
order, so localdapr must not be the bottleneck. Publishers run in their own
processes (the test process also serves the subscriber app, and one GIL for
both would measure the harness, not the sidecar). The machine is shared, so
the assertion is a generous floor; the measured rate is printed (`-s`).

    PUBSUB_BENCH_MESSAGES=8000 pytest localdapr/tests/contract/test_pubsub_throughput.py -s
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from .app import recorder
from .conftest import Target

MESSAGES = int(os.environ.get("PUBSUB_BENCH_MESSAGES", "4000"))
PROCESSES = int(os.environ.get("PUBSUB_BENCH_PROCESSES", "2"))
THREADS = int(os.environ.get("PUBSUB_BENCH_THREADS", "6"))
FLOOR = float(os.environ.get("PUBSUB_BENCH_FLOOR", "300"))  # msg/s

PUBLISHER = """
import json, os, sys
from concurrent.futures import ThreadPoolExecutor
grpc_port, http_port, name, count, threads = sys.argv[1:6]
os.environ["DAPR_GRPC_PORT"], os.environ["DAPR_HTTP_PORT"] = grpc_port, http_port
from dapr.clients import DaprClient

def run(t):
    with DaprClient(address=f"127.0.0.1:{grpc_port}") as client:
        for i in range(int(count) // int(threads)):
            body = json.dumps({"k": f"bench-{name}-{t}-{i}"})
            client.publish_event("pubsub", "ps-bench", body, data_content_type="application/json")

with ThreadPoolExecutor(int(threads)) as pool:
    list(pool.map(run, range(int(threads))))
"""


def test_publish_to_delivery_throughput(target: Target) -> None:
    """Deliveries run concurrently (bounded) and are woken by publish: N messages end to end."""
    start_count = len(recorder.get("ps-bench"))
    per_process = MESSAGES // PROCESSES // THREADS * THREADS
    args = [str(target.main.grpc_port), str(target.main.http_port)]
    started = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-c", PUBLISHER, *args, str(n), str(per_process), str(THREADS)])
        for n in range(PROCESSES)
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0
    published = time.perf_counter()
    total = per_process * PROCESSES
    recorder.wait_for("ps-bench", start_count + total, timeout=120)
    elapsed = time.perf_counter() - started
    delivered = len(recorder.get("ps-bench")) - start_count
    rate = delivered / elapsed
    print(
        f"\npubsub: {delivered} messages in {elapsed:.2f}s = {rate:.0f} msg/s end to end "
        f"(publishers done after {published - started:.2f}s, including their start-up)"
    )
    assert delivered == total
    assert rate >= FLOOR
