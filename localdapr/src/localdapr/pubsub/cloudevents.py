"""The CloudEvent 1.0 envelope exactly as Dapr builds it (pure functions).

Mirrors dapr/dapr `pkg/runtime/pubsub/cloudevents.go` (`cloudevent.*` metadata
overrides) and components-contrib `pubsub/envelope.go` (defaults, data vs
data_base64, pass-through of a published CloudEvent, `ttlInSeconds` ->
`expiration`, raw payloads wrapped on the subscriber's side).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json"
DEFAULT_TYPE = "com.dapr.event.sent"
DEFAULT_SOURCE = "Dapr"
DEFAULT_DATA_CONTENT_TYPE = "text/plain"
SPEC_VERSION = "1.0"

# Metadata keys (case-insensitive, as mapstructure decodes them) that override envelope fields.
_OVERRIDES = ("id", "source", "type", "traceid", "traceparent", "tracestate")


class CloudEventError(ValueError):
    """The published body claims to be a CloudEvent but is not a JSON object."""


def _is(content_type: str, expected: str) -> bool:
    # components-contrib contenttype.isContentType: exact match, parameters after ';' ignored.
    return content_type.lower().split(";", 1)[0] == expected


def is_cloudevent(content_type: str) -> bool:
    return _is(content_type, CLOUDEVENT_CONTENT_TYPE)


def is_json(content_type: str) -> bool:
    return _is(content_type, "application/json")


def is_binary(content_type: str) -> bool:
    return _is(content_type, "application/octet-stream")


_clock: tuple[int, str] = (0, "")


def rfc3339_now() -> str:
    """Go's `time.Now().Format(time.RFC3339)`: local time, seconds, `Z` for UTC."""
    global _clock
    second = int(time.time())
    if _clock[0] != second:  # formatting is cached per second: it is on every publish
        now = datetime.fromtimestamp(second).astimezone()
        text = now.isoformat(timespec="seconds")
        _clock = (second, text[:-6] + "Z" if now.utcoffset() == timedelta(0) else text)
    return _clock[1]


def ttl_seconds(metadata: dict[str, str]) -> int | None:
    """contrib metadata.TryGetTTL: `ttlInSeconds` as a non-negative integer, else no TTL."""
    raw = metadata.get("ttlInSeconds")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN/Infinity; Go does not


_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def _first_json_value(data: bytes) -> str | None:
    """The first JSON value in `data`, as text, or None if there is none.

    Go's json.Decoder (used by Dapr with UseNumber) reads one value and ignores
    what follows; the text is embedded verbatim so numbers keep their precision.
    """
    try:
        text = data.decode("utf-8")
        stripped = text.lstrip(" \t\r\n")
        _, end = _DECODER.raw_decode(stripped)
    except (UnicodeDecodeError, ValueError):
        return None
    return stripped[:end]


_RAW = "\x00raw\x00"  # stands in for pre-serialized JSON until it is spliced in
_RAW_JSON = '"\\u0000raw\\u0000"'


def encode(fields: dict[str, Any], raw_data: str | None = None) -> bytes:
    """Serialize an envelope like Go's json.Marshal of a map: keys sorted.

    `raw_data` is the published data as JSON text, embedded as `data` verbatim.
    """
    if raw_data is None:
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    text = json.dumps({**fields, "data": _RAW}, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.replace(_RAW_JSON, raw_data, 1).encode()


def new_envelope(
    *,
    data: bytes,
    data_content_type: str,
    topic: str,
    pubsub: str,
    source: str,
    traceparent: str,
    tracestate: str,
    metadata: dict[str, str],
) -> tuple[bytes, dict[str, Any]]:
    """The CloudEvent JSON Dapr publishes for `data` (NewCloudEvent + ApplyMetadata), and its
    fields (without `data` when that is embedded JSON text)."""
    if is_cloudevent(data_content_type):
        try:
            event = json.loads(data, parse_constant=_no_constants)
        except ValueError as exc:
            raise CloudEventError(str(exc)) from None
        if not isinstance(event, dict):
            raise CloudEventError("a CloudEvent must be a JSON object")
        event.setdefault("time", rfc3339_now())
        event.update(
            traceid=traceparent,
            traceparent=traceparent,
            tracestate=tracestate,
            topic=topic,
            pubsubname=pubsub,
        )
        for key, default in (
            ("source", DEFAULT_SOURCE),
            ("type", DEFAULT_TYPE),
            ("specversion", SPEC_VERSION),
        ):
            if event.get(key) is None:
                event[key] = default
        _apply_ttl(event, metadata)
        return encode(event), event

    overrides = {k: "" for k in _OVERRIDES}
    overrides.update(id="", source=source, type="", traceid=traceparent, tracestate=tracestate)
    for key, value in metadata.items():
        lower = key.lower()
        if lower.startswith("cloudevent.") and lower[11:] in overrides:
            overrides[lower[11:]] = value
    if overrides["traceparent"]:
        overrides["traceid"] = overrides["traceparent"]
    content_type = data_content_type or DEFAULT_DATA_CONTENT_TYPE
    fields: dict[str, Any] = {
        "id": overrides["id"] or str(uuid.uuid4()),
        "specversion": SPEC_VERSION,
        "datacontenttype": content_type,
        "source": overrides["source"] or DEFAULT_SOURCE,
        "type": overrides["type"] or DEFAULT_TYPE,
        "topic": topic,
        "pubsubname": pubsub,
        "traceid": overrides["traceid"],
        "traceparent": overrides["traceid"],
        "tracestate": overrides["tracestate"],
        "time": rfc3339_now(),
    }
    raw = None
    if is_json(content_type) and (text := _first_json_value(data)) is not None:
        raw = text
    elif is_binary(content_type):
        fields["data_base64"] = base64.b64encode(data).decode("ascii")
    else:
        fields["data"] = data.decode("utf-8", errors="replace")
    _apply_ttl(fields, metadata)
    return encode(fields, raw), fields


def _apply_ttl(event: dict[str, Any], metadata: dict[str, str]) -> None:
    # The SQLite broker has no native message TTL, so Dapr's envelope carries it.
    ttl = ttl_seconds(metadata)
    if ttl is not None:
        expires = datetime.now(UTC) + timedelta(seconds=ttl)
        event["expiration"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")


def from_raw_payload(data: bytes, topic: str, pubsub: str, metadata: dict[str, str]) -> dict[str, Any]:
    """The envelope a subscriber with `rawPayload` sees for a raw message (FromRawPayload)."""
    event: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "specversion": SPEC_VERSION,
        "datacontenttype": "application/octet-stream",
        "source": DEFAULT_SOURCE,
        "type": DEFAULT_TYPE,
        "topic": topic,
        "pubsubname": pubsub,
        "data_base64": base64.b64encode(data).decode("ascii"),
    }
    if "traceid" in metadata:
        event["traceid"] = metadata["traceid"]
    if "traceparent" in metadata:
        event["traceparent"] = event["traceid"] = metadata["traceparent"]
    if "tracestate" in metadata:
        event["tracestate"] = metadata["tracestate"]
    return event


def has_expired(event: dict[str, Any]) -> bool:
    value = event.get("expiration")
    if not isinstance(value, str) or not value:
        return False
    try:
        expires = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    if expires.tzinfo is None:
        return False
    return expires < datetime.now(UTC)
