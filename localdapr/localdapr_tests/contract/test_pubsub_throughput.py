"""Concurrent publishers through the SDK: every message is delivered, none twice.

Publishers run in their own processes (the test process also serves the
subscriber app, and one GIL for both would measure the harness). The test
asserts only that nothing is lost or duplicated; it prints the rate it saw,
so with more messages it doubles as a measurement (no timing is asserted:
performance is the benchmarks' business, see localdapr/README.md):

    PUBSUB_BENCH_MESSAGES=8000 pytest localdapr/localdapr_tests/contract/test_pubsub_throughput.py -s
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from .app import recorder
from .conftest import Target

MESSAGES = int(os.environ.get("PUBSUB_BENCH_MESSAGES", "2400"))
PROCESSES = int(os.environ.get("PUBSUB_BENCH_PROCESSES", "2"))
THREADS = int(os.environ.get("PUBSUB_BENCH_THREADS", "6"))

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


def test_concurrent_publishers_lose_and_duplicate_nothing(target: Target) -> None:
    """At-least-once delivery (docs: pubsub-overview) with no failures means exactly once here."""
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
    assert len(set(map(str, recorder.get("ps-bench")[start_count:]))) == total
