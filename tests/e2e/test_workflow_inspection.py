"""`make workflows` / `make workflow ID=` on a running system, on both runtimes: the sagas
as the Dapr CLI's `dapr workflow list` and `history` would show them (the same two RPCs)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import Api, future_slot
from .polling import eventually
from .stack import ROOT, Stack


def workflows(stack: Stack, *args: str) -> list[str]:
    grpc = f"127.0.0.1:{stack.apps['order'].grpc_port}"
    result = subprocess.run(
        [sys.executable, "-m", "dapr_runtime.workflows", *args, "--grpc", grpc],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def listed_status(stack: Stack, instance: str) -> str | None:
    return {line.split()[0]: line.split()[1] for line in workflows(stack, "list")}.get(instance)


def test_a_finished_saga_is_listed_and_its_history_reads_as_the_saga(api: Api, stack: Stack) -> None:
    login, product = api.new_account(100), api.new_product(5)
    created = api.create_order(login, product, 1, 5, future_slot())
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    assert api.wait_final(order_id)["status"] == "completed"

    # The record is completed by the charge's activity; the workflow ends a turn later.
    eventually(
        lambda: listed_status(stack, f"order-{order_id}") == "COMPLETED", "the workflow listed COMPLETED", 10
    )

    events = [line.split()[1:3] for line in workflows(stack, "history", f"order-{order_id}")]
    kinds = [e[0] for e in events]
    assert ["ExecutionStarted", "order_saga"] in events
    # Each step's answer is its activity's result: one record_and_send per phase (the charge's
    # records the outcome too), no event, no timer.
    assert kinds.count("TaskScheduled") == kinds.count("TaskCompleted") == 2
    assert "EventRaised" not in kinds and "TimerCreated" not in kinds
    assert kinds[-1] == "ExecutionCompleted"


def test_an_unknown_saga_has_no_history(stack: Stack) -> None:
    grpc = f"127.0.0.1:{stack.apps['order'].grpc_port}"
    result = subprocess.run(
        [sys.executable, "-m", "dapr_runtime.workflows", "history", "order-999999", "--grpc", grpc],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no workflow 'order-999999'" in result.stderr, result.stderr
