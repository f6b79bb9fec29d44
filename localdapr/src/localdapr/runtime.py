"""All sidecars of one localdapr process, and what they share.

Sidecars share the database and the pub/sub broker (a broker is shared by
nature: one app publishes, others consume). Each sidecar's state keys and
workflows stay namespaced by its app id, as in Dapr.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .db import Database
from .sidecar import Sidecar, SidecarOptions

log = logging.getLogger("localdapr")


class LocalDapr:
    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.db = Database(self.data_dir / "localdapr.sqlite3")
        self.sidecars: dict[str, Sidecar] = {}
        # Shared services created lazily by blocks, keyed by name (e.g. "broker").
        self.shared: dict[str, Any] = {}

    async def add_sidecar(self, options: SidecarOptions) -> Sidecar:
        if options.app_id in self.sidecars:
            raise ValueError(f"app id {options.app_id!r} already has a sidecar")
        sidecar = Sidecar(options, self)
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
        for service in self.shared.values():
            close = getattr(service, "aclose", None)
            if close:
                await close()
        self.db.close()
