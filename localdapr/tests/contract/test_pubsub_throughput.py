"""End-to-end pub/sub throughput: publish through the SDK, count deliveries in the app.

Not a Dapr behaviour but a budget: the saga makes several pub/sub hops per
order, so localdapr must not be the bottleneck. The app, the SDK clients and
the test share one Python process (and its GIL), so this under-measures.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from dapr.clients import DaprClient

from .app import recorder
from .conftest import Target

MESSAGES = int(os.environ.get("PUBSUB_BENCH_MESSAGES", "3000"))
THREADS = int(os.environ.get("PUBSUB_BENCH_THREADS", "8"))
FLOOR = float(os.environ.get("PUBSUB_BENCH_FLOOR", "300"))  # msg/s; generous against noisy CI


def test_publish_to_delivery_throughput(target: Target) -> None:
    """Deliveries run concurrently (bounded), woken by publish: N messages end to end."""
    start_count = len(recorder.get("ps-bench"))
    per_thread = MESSAGES // THREADS

    def publisher(n: int) -> None:
        with DaprClient(address=target.main.grpc_address) as client:
            for i in range(per_thread):
                body = json.dumps({"k": f"bench-{n}-{i}"})
                client.publish_event("pubsub", "ps-bench", body, data_content_type="application/json")

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(publisher, range(THREADS)))
    published = time.perf_counter()
    total = start_count + per_thread * THREADS
    recorder.wait_for("ps-bench", total, timeout=120)
    elapsed = time.perf_counter() - started
    delivered = len(recorder.get("ps-bench")) - start_count
    rate = delivered / elapsed
    print(
        f"\npubsub: {delivered} messages in {elapsed:.2f}s = {rate:.0f} msg/s end to end "
        f"(publishing took {published - started:.2f}s)"
    )
    assert delivered == per_thread * THREADS
    assert rate >= FLOOR
