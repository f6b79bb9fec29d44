"""Replies Dapr gave up delivering (`order-replies-dead`): counted, the latest kept.

A reply lands there after the order app answered RETRY through all of Dapr's
delivery retries (the workflow engine was unreachable), or DROP (unreadable).
Nothing waits for it any more: the saga that expected it has timed out and
compensated, or will, and a compensation whose ack was lost is sent again. So
the order app only makes it visible. Key `dead-replies`: a count and the last
`KEEP` entries, so the record never grows with the shop's history.
"""

from datetime import UTC, datetime
from typing import Any

from dapr_helpers.state import JsonStore, checked_write, retry_on_conflict

KEY = "dead-replies"
KEEP = 20
FIELDS = ("order_id", "participant", "action", "ok", "reason")


def summary_of(data: Any) -> dict[str, str]:
    """The reply's identifying fields as short strings: a dead letter may be anything."""
    if not isinstance(data, dict):
        return {"body": str(data)[:200]}
    return {f: str(data[f])[:200] for f in FIELDS if f in data}


class DeadLetterLog:
    def __init__(self, store: JsonStore) -> None:
        self.store = store

    async def add(self, event_id: str, data: Any) -> bool:
        """Record one dead letter; False if this CloudEvent was recorded already (a redelivery)."""
        entry = {"id": event_id, "at": datetime.now(UTC).isoformat(), "reply": summary_of(data)}

        async def attempt() -> bool:
            record, etag = await self.store.get_json(KEY)
            record = record or {"count": 0, "recent": []}
            if any(e["id"] == event_id for e in record["recent"]):
                return False
            record = {"count": record["count"] + 1, "recent": [entry, *record["recent"]][:KEEP]}
            await self.store.transact([checked_write(KEY, record, etag)])
            return True

        return await retry_on_conflict(attempt)

    async def read(self) -> dict[str, Any]:
        record, _ = await self.store.get_json(KEY)
        return record or {"count": 0, "recent": []}
