"""The order app's saga gateway against the order sidecar: the workflow API as the app uses it.

The reply handler relies on these answers: an event for an unknown saga is an
error (then `exists` tells "unknown" from "engine away"), and one for a
finished saga is accepted and ignored.
"""

from collections.abc import AsyncIterator

import pytest
from dapr.conf import settings
from dapr_helpers.client import DaprHttp, DaprHttpError
from order_app.adapters.sagas import DaprSagaGateway

from .conftest import Api, future_slot
from .stack import Stack


@pytest.fixture
async def sagas(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DaprSagaGateway]:
    monkeypatch.setattr(settings, "DAPR_HTTP_PORT", stack.apps["order"].http_port)
    monkeypatch.setattr(settings, "DAPR_GRPC_PORT", stack.apps["order"].grpc_port)
    monkeypatch.setattr(settings, "DAPR_HTTP_ENDPOINT", None)
    monkeypatch.setattr(settings, "DAPR_GRPC_ENDPOINT", None)
    dapr = DaprHttp()
    yield DaprSagaGateway(dapr)
    await dapr.close()


async def test_a_placed_order_has_a_saga_and_an_unknown_one_has_none(
    api: Api, sagas: DaprSagaGateway
) -> None:
    login, product = api.new_account(10), api.new_product(1)
    order_id = api.create_order(login, product, 1, 1, future_slot()).json()["id"]

    assert await sagas.exists(order_id)
    assert api.wait_final(order_id)["status"] == "completed"
    assert await sagas.exists(order_id)  # finished, not yet purged
    assert not await sagas.exists(10**12)


async def test_an_event_for_an_unknown_saga_fails_and_one_for_a_finished_saga_is_ignored(
    api: Api, sagas: DaprSagaGateway
) -> None:
    with pytest.raises(DaprHttpError) as err:
        await sagas.raise_event(10**12, "stock.reserve", {"ok": True})
    assert err.value.status == 500

    login, product = api.new_account(10), api.new_product(1)
    order = api.wait_final(api.create_order(login, product, 1, 1, future_slot()).json()["id"])
    await sagas.raise_event(order["id"], "stock.reserve", {"ok": False})  # a late duplicate
    assert api.http.get(f"/orders/{order['id']}").json()["status"] == "completed"
