"""List a run's sagas and print one saga's history, as `dapr workflow list` / `history` do.

    python -m dapr_runtime.workflows list [--app order] [--grpc ADDRESS]
    python -m dapr_runtime.workflows history ID [--app order] [--grpc ADDRESS]

Both talk to the app's sidecar (localdapr or daprd alike) over the workflow gRPC service
the Dapr CLI uses: `ListInstanceIDs` then `GetInstance` per id, and `GetInstanceHistory`.
Without `--grpc` the sidecar's port comes from `.data/run.json`, which `make run` and
`make run-dapr` keep in the repository root while the system runs. `DAPR_API_TOKEN`, when
set, is sent as the sidecars of such a run require it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import grpc
from dapr.ext.workflow._durabletask.internal import protos as pb
from dapr.ext.workflow._durabletask.internal.orchestrator_service_pb2_grpc import TaskHubSidecarServiceStub
from google.protobuf import timestamp_pb2

# src/dapr_runtime/workflows.py -> the repository root, whatever the current directory is.
RUN_FILE = Path(__file__).resolve().parents[3] / ".data" / "run.json"
NO_RUN = "no running system found (.data/run.json): start it with make run or make run-dapr, or pass --grpc"
PAGE_SIZE = 100
PAYLOAD_WIDTH = 60
TIMEOUT = 10.0
NEVER = 253_402_000_000  # seconds: 9999-12-31, the SDK's OPTIONAL_TIMER_FIRE_AT


class CliError(Exception):
    """A message for the user; the command exits with status 1."""


# -- where the sidecar is ----------------------------------------------------------


def sidecar_address(run_file: Path, app: str) -> str:
    """The gRPC address of `app`'s sidecar, as the run recorded it."""
    try:
        record = json.loads(run_file.read_text())
    except FileNotFoundError:
        raise CliError(NO_RUN) from None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {run_file}: {exc}") from None
    apps = record.get("apps") or {}
    port = (apps.get(app) or {}).get("dapr_grpc_port")
    if not port:
        known = ", ".join(sorted(apps)) or "none"
        raise CliError(f"{run_file} has no sidecar for app '{app}' (apps: {known})")
    return f"127.0.0.1:{port}"


class Sidecar:
    """The workflow service of one sidecar."""

    def __init__(self, address: str, token: str | None) -> None:
        self.address = address
        self.channel = grpc.insecure_channel(address)
        self.stub = TaskHubSidecarServiceStub(self.channel)
        self.metadata = (("dapr-api-token", token),) if token else ()

    def close(self) -> None:
        self.channel.close()

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=TIMEOUT, metadata=self.metadata)
        except grpc.RpcError as exc:
            raise CliError(self._explain(exc)) from None

    def _explain(self, exc: grpc.RpcError) -> str:
        code, details = exc.code(), exc.details()
        if code == grpc.StatusCode.UNAVAILABLE:
            return f"cannot reach the sidecar at {self.address}: is the system still running? ({details})"
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return f"the sidecar at {self.address} wants its API token: set DAPR_API_TOKEN ({details})"
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return f"the sidecar at {self.address} cannot list workflows ({details})"
        return f"{code.name}: {details}"

    def instance_ids(self) -> Iterator[str]:
        """Every instance id of the app, oldest first, page by page."""
        token: str | None = None
        while True:
            request = pb.ListInstanceIDsRequest(pageSize=PAGE_SIZE, continuationToken=token)
            response = self._call("ListInstanceIDs", request)
            yield from response.instanceIds
            if not response.HasField("continuationToken"):
                return
            token = response.continuationToken

    def state(self, instance_id: str) -> pb.WorkflowState | None:
        response = self._call("GetInstance", pb.GetInstanceRequest(instanceId=instance_id))
        return response.workflowState if response.exists else None

    def history(self, instance_id: str) -> list[pb.HistoryEvent]:
        try:
            response = self.stub.GetInstanceHistory(
                pb.GetInstanceHistoryRequest(instanceId=instance_id), timeout=TIMEOUT, metadata=self.metadata
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise CliError(f"no workflow '{instance_id}' on the sidecar at {self.address}") from None
            raise CliError(self._explain(exc)) from None
        return list(response.events)


# -- formatting --------------------------------------------------------------------


def when(ts: timestamp_pb2.Timestamp) -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    return ts.ToDatetime(tzinfo=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_name(status: int) -> str:
    return pb.OrchestrationStatus.Name(status).removeprefix("ORCHESTRATION_STATUS_")


def short(text: str, width: int = PAYLOAD_WIDTH) -> str:
    """One line, at most `width` characters."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell (the last one is left as is)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]]).rstrip()
        for row in rows
    ]


def list_lines(sidecar: Sidecar) -> list[str]:
    rows = []
    for instance_id in sidecar.instance_ids():
        state = sidecar.state(instance_id)
        if state is None:
            continue  # purged between the two calls
        rows.append(
            [
                instance_id,
                status_name(state.workflowStatus),
                f"created {when(state.createdTimestamp)}",
                f"updated {when(state.lastUpdatedTimestamp)}",
            ]
        )
    return table(rows)


def _value(message: Any, field: str) -> str:
    """An optional StringValue field's text, empty when absent."""
    return getattr(message, field).value if message.HasField(field) else ""


def _failure(details: pb.TaskFailureDetails) -> str:
    return f"{details.errorType}: {details.errorMessage}"


def _timer_name(timer: pb.TimerCreatedEvent) -> str:
    if timer.HasField("name"):
        return timer.name
    origin = timer.WhichOneof("origin")
    if origin == "externalEvent":
        return timer.externalEvent.name  # the timeout of a wait for this event
    return "retry" if origin in ("activityRetry", "childWorkflowRetry") else ""


def _fires(fire_at: timestamp_pb2.Timestamp) -> str:
    # The SDK waits for an event without a timeout on a timer at 9999-12-31 that never fires.
    return "no timeout" if fire_at.seconds >= NEVER else f"fires at {when(fire_at)}"


Names = dict[int, str]  # eventId of a TaskScheduled / TimerCreated / ChildWorkflowInstanceCreated -> name

# Per event type: its name (activity, timer, event, workflow) and payload. Completions carry
# only the id of what they complete, so they are named after the event that scheduled it.
DESCRIBE: dict[str, Callable[[Any, Names], tuple[str, str]]] = {
    "executionStarted": lambda b, n: (b.name, _value(b, "input")),
    "executionCompleted": lambda b, n: (
        status_name(b.workflowStatus),
        _failure(b.failureDetails) if b.HasField("failureDetails") else _value(b, "result"),
    ),
    "executionTerminated": lambda b, n: ("", _value(b, "input")),
    "taskScheduled": lambda b, n: (b.name, _value(b, "input")),
    "taskCompleted": lambda b, n: (n.get(b.taskScheduledId, ""), _value(b, "result")),
    "taskFailed": lambda b, n: (n.get(b.taskScheduledId, ""), _failure(b.failureDetails)),
    "childWorkflowInstanceCreated": lambda b, n: (b.name, f"{b.instanceId} {_value(b, 'input')}"),
    "childWorkflowInstanceCompleted": lambda b, n: (n.get(b.taskScheduledId, ""), _value(b, "result")),
    "childWorkflowInstanceFailed": lambda b, n: (n.get(b.taskScheduledId, ""), _failure(b.failureDetails)),
    "timerCreated": lambda b, n: (_timer_name(b), _fires(b.fireAt)),
    "timerFired": lambda b, n: (n.get(b.timerId, ""), f"due {when(b.fireAt)}"),
    "eventRaised": lambda b, n: (b.name, _value(b, "input")),
    "eventSent": lambda b, n: (b.name, f"to {b.instanceId} {_value(b, 'input')}"),
    "continueAsNew": lambda b, n: ("", _value(b, "input")),
    "executionSuspended": lambda b, n: ("", _value(b, "input")),
    "executionResumed": lambda b, n: ("", _value(b, "input")),
    "executionStalled": lambda b, n: (pb.StalledReason.Name(b.reason), b.description),
    "workflowStarted": lambda b, n: (b.version.name if b.HasField("version") else "", ""),
    "detachedWorkflowInstanceCreated": lambda b, n: ("", b.instanceId),
}


def history_lines(events: Sequence[pb.HistoryEvent]) -> list[str]:
    names: Names = {}
    for event in events:
        kind: str | None = event.WhichOneof("eventType")
        if kind == "taskScheduled":
            names[event.eventId] = event.taskScheduled.name
        elif kind == "childWorkflowInstanceCreated":
            names[event.eventId] = event.childWorkflowInstanceCreated.name
        elif kind == "timerCreated":
            names[event.eventId] = _timer_name(event.timerCreated)
    rows = []
    for event in events:
        kind = event.WhichOneof("eventType") or "unknown"
        describe = DESCRIBE.get(kind)
        name, payload = describe(getattr(event, kind), names) if describe else ("", "")
        rows.append([when(event.timestamp), kind[0].upper() + kind[1:], name, short(payload)])
    return table(rows)


# -- command line ------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--app", default="order", help="the app whose sidecar runs the workflows (default: order)"
    )
    common.add_argument("--grpc", metavar="ADDRESS", help="the sidecar's gRPC address, e.g. 127.0.0.1:50001")
    common.add_argument("--run-file", type=Path, default=RUN_FILE, help=argparse.SUPPRESS)  # for tests
    parser = argparse.ArgumentParser(
        prog="python -m dapr_runtime.workflows", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", parents=[common], help="one line per workflow: id, status, created, updated")
    history = sub.add_parser("history", parents=[common], help="one line per event of a workflow's history")
    history.add_argument("instance_id", metavar="ID")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        address = args.grpc or sidecar_address(args.run_file, args.app)
        sidecar = Sidecar(address, os.environ.get("DAPR_API_TOKEN") or None)
        try:
            if args.command == "list":
                lines = list_lines(sidecar)
                if not lines:
                    print(f"no workflows on the sidecar at {address}", file=sys.stderr)
            else:
                lines = history_lines(sidecar.history(args.instance_id))
        finally:
            sidecar.close()
    except CliError as exc:
        print(exc, file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
