"""Crashes mid-load: `kill -9` of the order app, or of localdapr (every sidecar), then a restart.

Durable workflows and the broker's at-least-once delivery must carry every saga
to a final state, with the audit clean: nothing charged, reserved or booked
twice or for a rejected order.
"""

from __future__ import annotations

from datetime import UTC, datetime

from .conftest import Driver


def updated_after(driver: Driver, ids: list[int], moment: datetime) -> list[int]:
    """The orders whose saga recorded progress after `moment`: they were in flight then."""
    orders = [driver.http.get(f"/orders/{i}").json() for i in ids]
    return [o["id"] for o in orders if datetime.fromisoformat(o["updated_at"]) > moment]


def test_order_app_killed_mid_saga_then_restarted(driver: Driver) -> None:
    ids = driver.place_mix(24)
    killed_at = datetime.now(UTC)
    driver.stack.kill_app("order")  # at once: the latest sagas have barely started
    driver.stack.start_app("order")

    driver.wait_all_final(ids)
    assert updated_after(driver, ids, killed_at), "every saga finished before the kill; nothing was tested"
    report = driver.audit()
    assert report.ok, str(report)


def test_localdapr_killed_mid_load_then_restarted(driver: Driver) -> None:
    ids = driver.place_mix(24)
    killed_at = datetime.now(UTC)
    driver.stack.kill_sidecars()
    driver.stack.start_sidecars()

    driver.wait_all_final(ids)
    assert updated_after(driver, ids, killed_at), "every saga finished before the kill; nothing was tested"
    report = driver.audit()
    assert report.ok, str(report)
    # And the system takes new orders as before.
    more = driver.place_mix(4)
    driver.wait_all_final(more)
    report = driver.audit()
    assert report.ok, str(report)
