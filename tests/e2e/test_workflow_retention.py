"""Once a finished saga's workflow history is purged (the Configuration's
`stateRetentionPolicy`), the order record still answers for the order.

The stack runs with a retention of one second, so the purge happens while the
test watches; `config.yaml` keeps an hour (completed) or a week (failed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from order_app.workflow.messages import instance_id

from .conftest import Api, future_slot
from .polling import eventually
from .stack import ROOT, STACK_ENV, Stack, make_stack

RETENTION = "1s"


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory, runtime: str) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp(f"retention-{runtime}")
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["spec"]["workflow"]["stateRetentionPolicy"] = dict.fromkeys(
        ("completed", "failed", "terminated"), RETENTION
    )
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    s = make_stack(runtime, workdir, env=STACK_ENV, config=workdir / "config.yaml")
    s.start()
    yield s
    s.stop()


@pytest.fixture
def short_api(short_lived: Stack) -> Iterator[Api]:
    client = Api(short_lived.url)
    yield client
    client.http.close()


def workflow_gone(stack: Stack, order_id: int) -> bool:
    r = httpx.get(f"{stack.sidecar_url('order')}/v1.0-beta1/workflows/dapr/{instance_id(order_id)}")
    return r.status_code != 200


@pytest.mark.parametrize("funds", [100, 0], ids=["completed", "rejected"])
def test_a_purged_saga_leaves_its_order_answering_as_before(
    short_lived: Stack, short_api: Api, funds: int
) -> None:
    login, product = short_api.new_account(funds), short_api.new_product(5)
    r = short_api.create_order(login, product, 2, "30.00", future_slot())
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    final = short_api.wait_final(order_id)
    assert final["status"] == ("completed" if funds else "rejected"), final

    eventually(lambda: workflow_gone(short_lived, order_id), "the finished saga's workflow purged")

    # `?wait=` returns the final record, without waiting out its deadline on a saga
    # the engine no longer knows.
    started = time.monotonic()
    waited = short_api.http.get(f"/orders/{order_id}", params={"wait": 30}, timeout=40)
    assert waited.status_code == 200 and waited.json() == final
    assert time.monotonic() - started < 15, "?wait= ran to its deadline on a purged saga"
    assert short_api.http.get(f"/orders/{order_id}").json() == final
    listed = short_api.http.get("/orders", params={"login": login}).json()["items"]
    assert [o["id"] for o in listed] == [order_id]

    # A participant's late reply for the purged saga is acknowledged and ignored:
    # not retried, not dead-lettered, and the order stays as it was.
    reply = {"order_id": order_id, "participant": "stock", "action": "release", "ok": True}
    publish = f"{short_lived.sidecar_url('stock')}/v1.0/publish/pubsub/order-replies"
    assert httpx.post(publish, json=reply).status_code == 204
    eventually(
        lambda: "reply stock.release for an unknown saga acknowledged" in order_log(short_lived, order_id),
        "the late reply acknowledged",
    )
    assert short_api.http.get(f"/orders/{order_id}").json() == final
    dead = short_api.http.get("/orders/dead-letters").json()["recent"]
    assert not [d for d in dead if d["reply"].get("order_id") == str(order_id)]


def order_log(stack: Stack, order_id: int) -> str:
    """The messages the order app logged about `order_id` (one JSON object per line)."""
    path: Path = stack.workdir / "order.log"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    return "\n".join(r["message"] for r in records if str(r.get("order_id")) == str(order_id))
