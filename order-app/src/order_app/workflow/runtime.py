"""Hosting the saga: a WorkflowRuntime, and a keeper that replaces it when its stream dies.

The SDK's worker reconnects after many errors, but its run loop ends for good
on some (a sidecar restart can surface as CANCELLED), and nothing tells the
app (python-sdk#900). `SagaWorker` watches the loop and, once it is gone,
builds and starts a new runtime. `start()` blocks until the sidecar answers,
so it runs in a thread: the app serves (and reports unready) meanwhile.
"""

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

import uvloop
from dapr.ext.workflow import DaprWorkflowContext, WorkflowActivityContext, WorkflowRuntime
from dapr.ext.workflow.logger import LoggerOptions
from dapr_helpers.client import DaprHttp
from dapr_helpers.pubsub import DaprPublisher
from dapr_helpers.saga.contract import BILLING, DELIVERY, STOCK
from dapr_helpers.state import StateStore

from order_app.adapters.participants import DaprParticipants
from order_app.adapters.repository import OrderRepository
from order_app.config import Settings
from order_app.service.outcomes import OutcomeSignals
from order_app.workflow import early_results
from order_app.workflow.activities import SagaActivities
from order_app.workflow.engine_watch import EngineWatch
from order_app.workflow.messages import SAGA_WORKFLOW, SagaInput
from order_app.workflow.saga import RECORD_AND_SEND, order_saga

log = logging.getLogger(__name__)


def build_runtime(settings: Settings, outcomes: OutcomeSignals | None = None) -> WorkflowRuntime:
    """A runtime with the saga and its activity registered; it connects on `start()`.

    `outcomes` hears of each outcome the activity records, to end `?wait=` requests.

    The activity runs on the worker's own event loop, so it gets its own sidecar
    session. Each registration is a fresh function: the SDK marks registered
    functions, and a replacement runtime must register again.
    """
    early_results.install()  # a daprd 1.18.2 workaround: see its module
    # The SDK runs activities on a loop of its own, made by asyncio.new_event_loop()
    # in its worker thread; with uvloop's policy that loop is uvloop, like uvicorn's.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    client = DaprHttp()
    store = StateStore(client, settings.state_store)
    app_ids = {
        STOCK.name: settings.stock_app_id,
        DELIVERY.name: settings.delivery_app_id,
        BILLING.name: settings.billing_app_id,
    }
    activities = SagaActivities(
        DaprPublisher(client, settings.pubsub_name),
        DaprParticipants(client, app_ids),
        OrderRepository(store),
        on_final=outcomes.recorded if outcomes is not None else None,
    )

    runtime = WorkflowRuntime(logger_options=sdk_logger_options())

    def saga(ctx: DaprWorkflowContext, saga_input: Any) -> Any:
        return order_saga(ctx, SagaInput.model_validate(saga_input))

    def activity(method: Callable[[WorkflowActivityContext, Any], Any]) -> Callable[..., Any]:
        async def run(ctx: WorkflowActivityContext, payload: Any) -> Any:
            return await method(ctx, payload)

        return run

    runtime.register_workflow(saga, name=SAGA_WORKFLOW)
    runtime.register_activity(activity(activities.record_and_send), name=RECORD_AND_SEND)
    return runtime


SDK_LOGGERS = ("durabletask-worker", "durabletask-client", "WorkflowRuntime", "DaprWorkflowClient")


def sdk_log_level() -> int:
    """At INFO the SDK logs every workflow turn and every event (about 17 lines a
    saga, more than the app's own); it speaks at WARNING unless LOG_LEVEL is DEBUG."""
    return logging.DEBUG if logging.getLogger().isEnabledFor(logging.DEBUG) else logging.WARNING


def sdk_logger_options() -> LoggerOptions:
    """The SDK's loggers propagate to the root's JSON handler; a NullHandler stops their own."""
    return LoggerOptions(log_level=sdk_log_level(), log_handler=logging.NullHandler())  # type: ignore[arg-type]


class InstanceOrderId(logging.Filter):
    """Gives the SDK's own log lines about `order-{id}` instances their `order_id` field."""

    pattern = re.compile(r"\border-(\d+)\b")

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "order_id", None) is None and (m := self.pattern.search(record.getMessage())):
            record.order_id = int(m.group(1))
        return True


def configure_sdk_logs() -> None:
    """The SDK's loggers at `sdk_log_level()`, their lines tagged with the order id.

    The level is set here too: `LoggerOptions` reaches the SDK's wrappers, but
    its inner `durabletask-*` loggers take only the handler.
    """
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(sdk_log_level())
        if not any(isinstance(f, InstanceOrderId) for f in logger.filters):
            logger.addFilter(InstanceOrderId())


def worker_alive(runtime: WorkflowRuntime) -> bool:
    """Whether the runtime's worker thread still runs; the SDK offers no public signal."""
    worker = getattr(runtime, "_WorkflowRuntime__worker", None)
    loop = getattr(worker, "_runLoop", None)
    return loop is not None and loop.is_alive()


def worker_connected(runtime: WorkflowRuntime) -> bool:
    """Whether the worker has its work-item stream open now. While it waits to reconnect
    (up to 15 s between attempts) its thread runs on, but it has none: the SDK drops it."""
    worker = getattr(runtime, "_WorkflowRuntime__worker", None)
    return getattr(worker, "_response_stream", None) is not None


class SagaWorker:
    """`watch`, when given, is asked at every check whether the sidecar's engine is stuck."""

    def __init__(
        self, build: Callable[[], WorkflowRuntime], check_seconds: float, watch: EngineWatch | None = None
    ) -> None:
        self.build = build
        self.check_seconds = check_seconds
        self.watch = watch
        self.runtime: WorkflowRuntime | None = None
        self.ready = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_running(), name="saga-worker")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.runtime is not None:
            # Also unblocks a start() still waiting for the sidecar in its thread.
            await asyncio.to_thread(self.runtime.shutdown)
        self.ready = False

    async def _keep_running(self) -> None:
        while not self._stopping.is_set():
            self.runtime = runtime = self.build()
            try:
                await asyncio.to_thread(runtime.start)
            except Exception as err:  # stopped while connecting, or the loop died at once
                log.warning("workflow worker did not start: %s", err)
            else:
                self.ready = True
                log.info("workflow worker connected")
                if self.watch is not None:
                    self.watch.reset()
                while worker_alive(runtime) and not await self._stopped_within(self.check_seconds):
                    if self.watch is None:
                        continue
                    if worker_connected(runtime):
                        await self.watch.check()
                    else:  # reconnecting: no worker is what the sidecar should show (`make soak`
                        self.watch.reset()  # saw a healthy one shut down), see docs/soak.md
            self.ready = False
            if self._stopping.is_set():
                return
            log.warning("workflow worker stream is gone; starting a new worker")
            await asyncio.to_thread(runtime.shutdown)
            await self._stopped_within(self.check_seconds)  # no tight loop if the sidecar keeps refusing

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True
