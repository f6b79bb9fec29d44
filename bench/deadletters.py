"""The audit's dead-letter subscriber: a tiny app run under the stack with its own sidecar.

It subscribes to every saga topic's dead-letter topic and keeps what arrives,
so the audit can match each dead-lettered message to a cause the run injected.
Messages are also appended to `DEADLETTERS_FILE` (JSON lines) so a restart of
this app forgets nothing. Run: `uvicorn --factory bench.deadletters:create_app`.
"""

import json
import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI

PUBSUB = "pubsub"
TOPICS = ("stock-commands", "delivery-commands", "billing-commands", "order-replies")


def dead_topic(topic: str) -> str:
    return f"{topic}-dead"


def create_app() -> FastAPI:
    path = Path(os.environ.get("DEADLETTERS_FILE", "deadletters.jsonl"))
    seen: dict[str, dict[str, Any]] = {}  # by CloudEvent id: a redelivery is one dead letter
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                event = json.loads(line)
                seen[event.get("id", str(len(seen)))] = event

    app = FastAPI(title="deadletters", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/dapr/subscribe")
    async def subscribe() -> list[dict[str, Any]]:
        return [
            {"pubsubname": PUBSUB, "topic": dead_topic(t), "route": f"/dead/{dead_topic(t)}"} for t in TOPICS
        ]

    @app.post("/dead/{topic}")
    def dead(topic: str, event: Annotated[dict[str, Any], Body()]) -> dict[str, str]:
        event["deadletter_topic"] = topic  # `topic` may still name the original topic
        key = str(event.get("id") or len(seen))
        if key not in seen:
            seen[key] = event
            with path.open("a") as f:
                f.write(json.dumps(event) + "\n")
        return {"status": "SUCCESS"}

    @app.get("/dead-letters")
    async def dead_letters() -> list[dict[str, Any]]:
        return list(seen.values())

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
