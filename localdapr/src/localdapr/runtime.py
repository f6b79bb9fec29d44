"""All sidecars of one localdapr process, and what they share: the composition root.

Sidecars share the database, the state store (its ETag counter is process-wide), the
pub/sub broker (shared by nature: one app publishes, others consume) and the workflow
store (cross-app child workflows and activities commit in one transaction). Each
sidecar's state keys and workflows stay namespaced by its app id, as in Dapr. This is
the one module that knows every block: it builds each sidecar's blocks, in start order,
and hands them what they share.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from .block import Block, Host
from .db import Database
from .health import HealthBlock
from .invoke import InvokeBlock
from .metadata import MetadataBlock
from .options import SidecarOptions
from .pubsub import PubSubBlock
from .pubsub.broker import Broker
from .sidecar import Sidecar
from .state import StateBlock
from .state.store import StateStore
from .workflow import WorkflowBlock
from .workflow.engine import Engine
from .workflow.store import Store as WorkflowStore

log = logging.getLogger("localdapr")


@dataclass
class Shared:
    """What every sidecar of the process uses, over one database."""

    state: StateStore
    broker: Broker
    workflows: WorkflowStore
    engines: dict[str, Engine] = field(default_factory=dict)  # each sidecar's, by app id

    @classmethod
    def open(cls, db: Database) -> Shared:
        state = StateStore(db)
        broker = Broker(db)
        broker.reset_due()  # a restart redelivers what was in flight or NACKed
        return cls(state=state, broker=broker, workflows=WorkflowStore(db))


def build_blocks(host: Host, shared: Shared) -> list[Block]:
    """One sidecar's blocks, in start order."""
    health = HealthBlock(host)
    invoke = InvokeBlock(host)
    return [
        health,
        StateBlock(host, shared.state),
        PubSubBlock(host, shared.broker),
        invoke,
        WorkflowBlock(host, shared.workflows, shared.engines),
        # Last: its start marks the sidecar healthy, and its catch-all route (the
        # `dapr-app-id` header form of invocation) must come after every other.
        MetadataBlock(host, health, invoke),
    ]


class LocalDapr:
    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.db = Database(self.data_dir / "localdapr.sqlite3")
        self.shared = Shared.open(self.db)
        self.sidecars: dict[str, Sidecar] = {}

    async def add_sidecar(self, options: SidecarOptions) -> Sidecar:
        if options.app_id in self.sidecars:
            raise ValueError(f"app id {options.app_id!r} already has a sidecar")
        sidecar = Sidecar(options, lambda host: build_blocks(host, self.shared), self.sidecars)
        self.sidecars[options.app_id] = sidecar
        try:
            await sidecar.start()
        except BaseException:
            del self.sidecars[options.app_id]
            await sidecar.stop()
            raise
        return sidecar

    async def stop(self) -> None:
        for sidecar in reversed(list(self.sidecars.values())):
            await sidecar.stop()
        self.sidecars.clear()
        await self.shared.broker.aclose()
        self.db.close()
