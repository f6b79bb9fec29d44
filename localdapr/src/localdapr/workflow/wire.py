"""The workflow protocol's messages, and hand-framed protobuf for the hot path.

History is kept as serialized `HistoryEvent` bytes, already framed as field 3
(`pastEvents`) of `WorkflowRequest`. A work item is then built by byte
concatenation instead of copying every past event into a fresh message on
every turn, and the same blob is what the database stores.
"""

from __future__ import annotations

import time
from typing import Any

from dapr.ext.workflow._durabletask.internal import protos as pb
from google.protobuf import timestamp_pb2, wrappers_pb2
from google.protobuf.message import Message

__all__ = ["pb", "timestamp_pb2", "wrappers_pb2"]

# Field numbers (orchestrator_service.proto).
_WR_INSTANCE_ID, _WR_EXECUTION_ID, _WR_PAST, _WR_NEW = 1, 2, 3, 4
_WI_WORKFLOW, _WI_ACTIVITY = 1, 2

# Terminal runtime statuses (durabletask-go api.WorkflowMetadataIsComplete).
TERMINAL = frozenset(
    {
        pb.ORCHESTRATION_STATUS_COMPLETED,
        pb.ORCHESTRATION_STATUS_FAILED,
        pb.ORCHESTRATION_STATUS_TERMINATED,
        pb.ORCHESTRATION_STATUS_CANCELED,
    }
)

# `wait_for_external_event` without a timeout creates a timer at 9999-12-31
# (the SDK's OPTIONAL_TIMER_FIRE_AT). Anything this far out is recorded and
# never fired.
NEVER_FIRE_AFTER = 253_402_000_000.0


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def frame(field: int, payload: bytes) -> bytes:
    """One length-delimited field: tag, length, payload."""
    return _varint((field << 3) | 2) + _varint(len(payload)) + payload


def past(event: bytes) -> bytes:
    """A serialized HistoryEvent framed as a `pastEvents` entry."""
    return frame(_WR_PAST, event)


# A WorkItem carries no completionToken: durabletask-go's executor never sets one, and matches a
# completion to its pending item by instance id (and task id), whatever token comes back.


def workflow_work_item(instance_id: str, execution_id: str, history: bytes, new_events: list[bytes]) -> bytes:
    request = (
        frame(_WR_INSTANCE_ID, instance_id.encode())
        + frame(_WR_EXECUTION_ID, frame(1, execution_id.encode()))
        + history
        + b"".join(frame(_WR_NEW, e) for e in new_events)
    )
    return frame(_WI_WORKFLOW, request)


def activity_work_item(request: bytes) -> bytes:
    return frame(_WI_ACTIVITY, request)


def parse_history(history: bytes) -> list[pb.HistoryEvent]:
    return list(pb.WorkflowRequest.FromString(history).pastEvents)


def ts(seconds: float | None = None) -> timestamp_pb2.Timestamp:
    t = timestamp_pb2.Timestamp()
    t.FromNanoseconds(int((time.time() if seconds is None else seconds) * 1e9))
    return t


def ts_seconds(t: timestamp_pb2.Timestamp) -> float:
    return t.seconds + t.nanos / 1e9


def sv(value: str | None) -> wrappers_pb2.StringValue | None:
    return None if value is None else wrappers_pb2.StringValue(value=value)


def opt(msg: Message, field: str) -> str | None:
    """The value of an optional StringValue field, None when absent."""
    return getattr(msg, field).value if msg.HasField(field) else None


def event(**kind: Any) -> pb.HistoryEvent:
    """A HistoryEvent stamped now, eventId -1 unless given."""
    event_id = kind.pop("eventId", -1)
    return pb.HistoryEvent(eventId=event_id, timestamp=ts(), **kind)
