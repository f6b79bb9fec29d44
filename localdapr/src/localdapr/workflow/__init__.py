"""Workflow building block: Dapr Workflow's `TaskHubSidecarService`, durable in SQLite.

Each sidecar gets an engine for its app id (workflows are namespaced per app,
as Dapr's actor backend does); the engines of one process share one store so
cross-app child workflows and activities commit in one transaction.
See engine.py for the model, service.py for the gRPC surface, http_api.py for the HTTP one
(`/v1.0/workflows/...`).

As daprd: every write (start, raise, terminate, suspend, resume, purge) waits until a
worker stream is open, since daprd registers the workflow actor types only then; without
an actor state store (`actorStateStore: "true"`) reads fail and writes never proceed.
A work item is offered again when its stream ends or localdapr restarts, never on a
timer (Dapr has no activity timeout, dapr/dapr#8391).

Where this differs from daprd (deliberately, and invisible to the SDK): terminate,
suspend and resume act in the backend at once, without a worker turn (daprd routes them
through the workflow's inbox), so they never wait for a turn.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from aiohttp import web

from ..block import Block, Host
from .engine import Engine
from .http_api import WorkflowHttp
from .service import add_service
from .store import Store


class WorkflowBlock(Block):
    def __init__(self, sidecar: Host, store: Store, engines: dict[str, Engine]) -> None:
        """`store` and `engines` (every sidecar's engine, by app id) are the process's."""
        super().__init__(sidecar)
        self.engine = Engine(sidecar.app_id, store, engines)
        states = sidecar.options.resources.components_for(sidecar.app_id, "state")
        self.engine.actor_store = any(c.flag("actorStateStore") for c in states)
        config = sidecar.options.configuration
        self.engine.retention = config.retention_policy if config else None

    def grpc_services(self) -> list[Callable[[grpc.aio.Server], None]]:
        return [add_service(self.engine)]

    def http_routes(self) -> list[web.RouteDef]:
        return WorkflowHttp(self.engine).routes()

    async def start(self) -> None:
        self.engine.load()

    def metadata_workflows(self) -> tuple[list[str], int]:
        """As daprd's metadata shows them: the workflow actor types, registered only
        while a worker stream is open, and how many streams are open."""
        workers = len(self.engine.dispatcher.streams)
        if not workers:
            return [], 0
        prefix = f"dapr.internal.default.{self.engine.app_id}"
        return [f"{prefix}.workflow", f"{prefix}.activity", f"{prefix}.retentioner"], workers

    async def stop(self) -> None:
        self.engine.close()
        self.engine.engines.pop(self.engine.app_id, None)
