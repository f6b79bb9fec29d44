"""Crashes mid-load: `kill -9` of the order app or of sidecars, then a restart.

Durable workflows and the broker's at-least-once delivery must carry every saga
to a final state, with the audit clean: nothing charged, reserved or booked
twice or for a rejected order. On real Dapr each app has its own daprd, so the
order app's sidecar is also killed alone, and then together with its app: the
case that leaves daprd 1.18.2's workflow engine stuck until the order app's
watch restarts the sidecar (order_app.workflow.engine_watch).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from .conftest import Driver


def updated_after(driver: Driver, ids: list[int], moment: datetime) -> list[int]:
    """The orders whose saga recorded progress after `moment`: they were in flight then."""
    orders = [driver.http.get(f"/orders/{i}").json() for i in ids]
    return [o["id"] for o in orders if datetime.fromisoformat(o["updated_at"]) > moment]


def finish_and_audit(driver: Driver, ids: list[int], crashed_at: datetime) -> None:
    driver.wait_all_final(ids)
    assert updated_after(driver, ids, crashed_at), "every saga finished before the crash; nothing was tested"
    report = driver.audit()
    assert report.ok, str(report)
    # And the system takes new orders as before.
    more = driver.place_mix(4)
    driver.wait_all_final(more)
    report = driver.audit()
    assert report.ok, str(report)


def real_dapr_only(driver: Driver) -> None:
    if driver.stack.runtime != "dapr":
        pytest.skip("under localdapr one process serves every sidecar: see the test that kills it")


def test_order_app_killed_mid_saga_then_restarted(driver: Driver) -> None:
    ids = driver.place_mix(24)
    killed_at = datetime.now(UTC)
    driver.stack.kill_app("order")  # at once: the latest sagas have barely started
    driver.stack.start_app("order")
    finish_and_audit(driver, ids, killed_at)


def test_every_sidecar_killed_mid_load_then_restarted(driver: Driver) -> None:
    ids = driver.place_mix(24)
    killed_at = datetime.now(UTC)
    driver.stack.kill_sidecars()
    driver.stack.start_sidecars()
    finish_and_audit(driver, ids, killed_at)


def test_order_sidecar_killed_mid_load_then_restarted(driver: Driver) -> None:
    real_dapr_only(driver)
    ids = driver.place_mix(24)
    killed_at = datetime.now(UTC)
    driver.stack.kill_sidecar("order")  # type: ignore[attr-defined]
    time.sleep(3)  # as long as a container restart takes, at least
    driver.stack.start_sidecar("order")  # type: ignore[attr-defined]
    finish_and_audit(driver, ids, killed_at)


def test_order_sidecar_then_order_app_killed_mid_load(driver: Driver) -> None:
    """Two crashes in a row, as measured by hand on daprd 1.18.2: the app's worker
    reconnects to a sidecar whose engine no longer registers it, until the app's
    watch asks that sidecar to restart."""
    real_dapr_only(driver)
    ids = driver.place_mix(24)
    killed_at = datetime.now(UTC)
    driver.stack.kill_sidecar("order")  # type: ignore[attr-defined]
    driver.stack.start_sidecar("order")  # type: ignore[attr-defined]
    more = driver.place_mix(12)
    driver.stack.kill_app("order")
    driver.stack.start_app("order")
    finish_and_audit(driver, ids + more, killed_at)
