"""A Dapr client that connects on first use, so apps start without a sidecar."""

import asyncio
from typing import Any

from dapr.aio.clients import DaprClient
from dapr.clients.health import DaprHealth


class LazyDaprClient:
    """Forwards every `DaprClient` coroutine method, connecting on the first call.

    `DaprClient()` polls the sidecar's health synchronously (up to
    `DAPR_HEALTH_TIMEOUT`); that wait runs in a thread so the event loop keeps
    serving while the sidecar comes up.
    """

    def __init__(self) -> None:
        self._client: DaprClient | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> DaprClient:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    await asyncio.to_thread(DaprHealth.wait_for_sidecar)
                    self._client = DaprClient()
        return self._client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            client = await self.connect()
            return await getattr(client, name)(*args, **kwargs)

        return call

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
