"""Replies Dapr gave up delivering (`order-replies-dead`): counted, the latest kept.

A reply lands there after the order app answered RETRY through all of Dapr's
delivery retries (the workflow engine was unreachable), or DROP (unreadable).
Nothing waits for it any more: a compensation whose acknowledgement was lost is
sent again (and a step's answer never comes this way: it is its invocation's
response). So the order app only makes it visible. Key `dead-replies`: a count and the last
`KEEP` entries, fewer if they would take more than `MAX_BYTES`, so the record
never grows with the shop's history and stays under 4 KB as every state value
written on a saga's path does.
"""

import json
from datetime import UTC, datetime
from typing import Any

from dapr_helpers.state import JsonStore, checked_write, retry_on_conflict

KEY = "dead-replies"
KEEP = 20
MAX_BYTES = 3_800  # serialized; one entry alone is at most ~1.6 KB (seven strings of `short`)
CUT = 100
FIELDS = ("order_id", "participant", "action", "ok", "reason")


def short(value: Any) -> str:
    """At most CUT printable ASCII characters: serialized, at most twice as long (escaped `\\`, `"`)."""
    text = str(value)
    if not (text.isascii() and text.isprintable()):
        text = ascii(text)[1:-1]  # escapes, so a character cannot become six bytes of JSON
    return text[:CUT]


def summary_of(data: Any) -> dict[str, str]:
    """The reply's identifying fields as short strings: a dead letter may be anything."""
    if not isinstance(data, dict):
        return {"body": short(data)}
    return {f: short(data[f]) for f in FIELDS if f in data}


def with_entry(record: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """The record with `entry` counted and listed first, the oldest dropped to stay within bounds."""
    recent = [entry, *record["recent"]][:KEEP]
    while len(recent) > 1 and len(json.dumps({"count": record["count"] + 1, "recent": recent})) > MAX_BYTES:
        recent.pop()
    return {"count": record["count"] + 1, "recent": recent}


class DeadLetterLog:
    def __init__(self, store: JsonStore) -> None:
        self.store = store

    async def add(self, event_id: str, data: Any) -> bool:
        """Record one dead letter; False if this CloudEvent was recorded already (a redelivery)."""
        event_id = short(event_id)  # as stored, so a redelivery still matches
        entry = {"id": event_id, "at": datetime.now(UTC).isoformat(), "reply": summary_of(data)}

        async def attempt() -> bool:
            record, etag = await self.store.get_json(KEY)
            record = record or {"count": 0, "recent": []}
            if any(e["id"] == event_id for e in record["recent"]):
                return False
            await self.store.transact([checked_write(KEY, with_entry(record, entry), etag)])
            return True

        return await retry_on_conflict(attempt)

    async def read(self) -> dict[str, Any]:
        record, _ = await self.store.get_json(KEY)
        return record or {"count": 0, "recent": []}
