import asyncio

import dapr_helpers.client as client_module
from dapr_helpers.client import LazyDaprClient


class _FakeDaprClient:
    made = 0

    def __init__(self) -> None:
        type(self).made += 1
        self.closed = False

    async def get_state(self, store: str, key: str) -> str:
        return f"{store}/{key}"

    async def close(self) -> None:
        self.closed = True


async def test_connects_once_on_first_use_and_forwards_calls(monkeypatch):
    waits = []
    monkeypatch.setattr(client_module.DaprHealth, "wait_for_sidecar", staticmethod(lambda: waits.append(1)))
    monkeypatch.setattr(client_module, "DaprClient", _FakeDaprClient)
    lazy = LazyDaprClient()
    assert waits == [] and _FakeDaprClient.made == 0  # nothing at construction
    results = await asyncio.gather(*(lazy.get_state("s", str(i)) for i in range(5)))
    assert results == [f"s/{i}" for i in range(5)]
    assert (len(waits), _FakeDaprClient.made) == (1, 1)
    await lazy.close()
