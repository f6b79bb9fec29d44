"""The saga worker is replaced when its stream dies (python-sdk#900), and stops cleanly."""

import asyncio
import logging
import threading

from order_app.config import Settings
from order_app.workflow.runtime import (
    InstanceOrderId,
    SagaWorker,
    build_runtime,
    configure_sdk_logs,
    worker_alive,
)


class FakeRuntime:
    """Starts at once; its 'run loop' is a thread that ends when `die()` is called."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._WorkflowRuntime__worker = self  # what worker_alive() looks at
        self._runLoop = threading.Thread(target=self._stop.wait)
        self.shut_down = False

    def start(self) -> None:
        self._runLoop.start()

    def die(self) -> None:
        self._stop.set()
        self._runLoop.join()

    def shutdown(self) -> None:
        self.shut_down = True
        self._stop.set()


async def eventually(condition, seconds: float = 2.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - set from the worker's threads, not an asyncio.Event
            await asyncio.sleep(0.01)


async def test_a_dead_worker_is_replaced_by_a_new_one():
    built: list[FakeRuntime] = []

    def build() -> FakeRuntime:
        built.append(FakeRuntime())
        return built[-1]

    worker = SagaWorker(build, check_seconds=0.01)  # type: ignore[arg-type]
    worker.start()
    await eventually(lambda: worker.ready)

    built[0].die()  # e.g. the sidecar restarted and the SDK's loop gave up
    await eventually(lambda: len(built) == 2 and worker.ready)
    assert built[0].shut_down

    await worker.stop()
    assert built[1].shut_down


async def test_stopping_before_the_sidecar_ever_answers_does_not_hang():
    worker = SagaWorker(lambda: build_runtime(Settings()), check_seconds=0.01)
    worker.start()
    await asyncio.sleep(0.05)  # start() is blocked, retrying the connection

    async with asyncio.timeout(10):
        await worker.stop()
    assert not worker.ready


def test_a_fresh_runtime_can_be_built_again_and_again():
    first, second = build_runtime(Settings()), build_runtime(Settings())  # no "already registered"

    assert not worker_alive(first) and not worker_alive(second)


def test_the_sdks_log_lines_about_an_order_carry_its_id():
    record = logging.LogRecord(
        "durabletask-worker", logging.INFO, "", 0, "order-42 Event raised: %s", ("x",), None
    )

    InstanceOrderId().filter(record)

    assert record.order_id == 42  # type: ignore[attr-defined]


def test_the_sdk_speaks_at_warning_unless_the_app_logs_debug():
    root = logging.getLogger()
    before = root.level
    try:
        root.setLevel(logging.INFO)
        configure_sdk_logs()
        worker = logging.getLogger("durabletask-worker")  # its turn-by-turn lines are INFO
        assert not worker.isEnabledFor(logging.INFO) and worker.isEnabledFor(logging.WARNING)

        root.setLevel(logging.DEBUG)
        configure_sdk_logs()
        assert worker.isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(before)
        configure_sdk_logs()


class CountingWatch:
    def __init__(self) -> None:
        self.checks = 0
        self.resets = 0

    async def check(self) -> bool:
        self.checks += 1
        return False

    def reset(self) -> None:
        self.resets += 1


async def test_the_engine_watch_waits_while_the_worker_reconnects():
    """`make soak` (docs/soak.md): after localdapr was killed and restarted, the SDK's worker
    waited 15 s before reconnecting, its thread alive, and the engine watch took that for
    daprd's stuck engine (no worker, no workflow actor) and shut the healthy sidecar down."""
    runtime, watch = FakeRuntime(), CountingWatch()
    worker = SagaWorker(lambda: runtime, check_seconds=0.01, watch=watch)  # type: ignore[arg-type, return-value]
    worker.start()
    try:
        await eventually(lambda: watch.resets >= 5)
        assert watch.checks == 0  # no work-item stream: never asked whether the engine is stuck

        runtime._response_stream = object()  # type: ignore[attr-defined]  # reconnected
        await eventually(lambda: watch.checks >= 3)
    finally:
        await worker.stop()
