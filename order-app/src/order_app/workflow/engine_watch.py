"""A way out of daprd 1.18.2's stuck workflow engine: notice it, and restart the sidecar.

When the app dies while an orchestration waits for a work item, daprd's
disconnect callback unregisters the workflow actor types while holding a lock
that the next stream's connect callback needs, and waits for that
orchestration, which waits for a stream (`pkg/runtime/wfengine/wfengine.go`,
durabletask-go `backend/executor.go`; dapr/dapr#9070, fixed by #10408 in no
release served here). The restarted app's worker then believes it is
connected, but the sidecar never registers the types again: timers and
activities stop and new workflows hang, while `/v1.0/healthz` stays green.

The sidecar's metadata gives it away: no connected worker and no workflow
actor type, while our worker is connected. Only a restart of the sidecar
clears it, so the app asks for one (`POST /v1.0/shutdown`) and the platform
starts the sidecar again: Kubernetes restarts the container, and so do
`make run-dapr` and the tests' stack. Nothing is lost: the workflows' state
is in the state store, and they resume where they stopped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from dapr_helpers.client import DaprHttpError, DaprRequests, DaprUnavailable

log = logging.getLogger(__name__)


def engine_lost_worker(metadata: Mapping[str, Any]) -> bool:
    """The sidecar shows no connected workflow worker and no workflow actor type."""
    workers = (metadata.get("workflows") or {}).get("connectedWorkers") or 0
    actors = (metadata.get("actorRuntime") or {}).get("activeActors") or []
    registered = any(str(a.get("type", "")).endswith(".workflow") for a in actors)
    return not workers and not registered


class EngineWatch:
    """Call `check()` while the worker is connected; after `checks` suspicious answers in
    a row (a reconnect in progress shows one, never several) it asks for a restart."""

    def __init__(self, client: DaprRequests, checks: int = 3) -> None:
        self.client = client
        self.checks = checks
        self.suspicious = 0
        self.restarts = 0

    def reset(self) -> None:
        self.suspicious = 0

    async def check(self) -> bool:
        """Whether it asked the sidecar to restart."""
        try:
            _, body, _ = await self.client.request("GET", "/metadata")
            lost = engine_lost_worker(json.loads(body))
        except (DaprUnavailable, DaprHttpError, ValueError):
            return False  # a sidecar that does not answer is the worker's own business
        self.suspicious = self.suspicious + 1 if lost else 0
        if self.suspicious < self.checks:
            return False
        log.error(
            "the sidecar's workflow engine lost our worker (dapr/dapr#9070): "
            "no connected worker and no workflow actor type for %d checks; asking it to restart",
            self.suspicious,
        )
        self.suspicious = 0
        self.restarts += 1
        try:
            await self.client.request("POST", "/shutdown")
        except (DaprUnavailable, DaprHttpError) as err:
            log.warning("the sidecar did not take the shutdown request: %s", err)
        return True
