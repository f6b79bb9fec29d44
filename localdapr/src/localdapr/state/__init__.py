"""State management building block: Dapr's state API over the shared SQLite database.

`store` holds the semantics (those of `state.postgresql` v1), `query` its query
language, `errors` its errors, `api` what daprd does around the component,
`grpc_api` and `http_api` the two transports. The one StateStore of the process
(its ETag counter is shared by every sidecar) comes from runtime.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..block import Block, Host
from ..config import Component
from .api import StateAPI
from .grpc_api import StateGrpc
from .http_api import StateHttp
from .store import StateStore


def table_id(component: Component) -> str:
    """Which rows a component sees: those of its database table, as in Postgres.

    Components with the same connection string and table share rows (only the
    app-id key prefix keeps apps apart), exactly as they would in production.
    """
    meta = component.metadata
    where = f"{meta.get('connectionString', '')}\0{meta.get('tableName', 'state')}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


class StateBlock(Block):
    def __init__(self, sidecar: Host, store: StateStore) -> None:
        super().__init__(sidecar)
        visible = sidecar.options.resources.components_for(sidecar.app_id, "state")
        tables = {c.name: table_id(c) for c in visible}
        self.api = StateAPI(store, sidecar.app_id, tables)

    def dapr_methods(self) -> dict[str, Callable[..., Any]]:
        return StateGrpc(self.api).methods()

    def http_routes(self) -> list[web.RouteDef]:
        return StateHttp(self.api).routes()
