"""Crashes mid-load: `kill -9` of the order app, or of localdapr (every sidecar), then a restart.

Durable workflows and the broker's at-least-once delivery must carry every saga
to a final state, with the audit clean: nothing charged, reserved or booked
twice or for a rejected order.
"""

from __future__ import annotations

from .conftest import Driver


def test_order_app_killed_mid_saga_then_restarted(driver: Driver) -> None:
    ids = driver.place_mix(24)
    in_flight = [i for i, s in driver.statuses(ids).items() if s == "pending"]
    driver.stack.kill_app("order")
    try:
        assert in_flight, "every saga finished before the kill; nothing was tested"
    finally:
        driver.stack.start_app("order")

    driver.wait_all_final(ids)
    report = driver.audit()
    assert report.ok, str(report)


def test_localdapr_killed_mid_load_then_restarted(driver: Driver) -> None:
    ids = driver.place_mix(24)
    in_flight = [i for i, s in driver.statuses(ids).items() if s == "pending"]
    driver.stack.kill_sidecars()
    try:
        assert in_flight, "every saga finished before the kill; nothing was tested"
    finally:
        driver.stack.start_sidecars()

    driver.wait_all_final(ids)
    report = driver.audit()
    assert report.ok, str(report)
    # And the system takes new orders as before.
    more = driver.place_mix(4)
    driver.wait_all_final(more)
    report = driver.audit()
    assert report.ok, str(report)
