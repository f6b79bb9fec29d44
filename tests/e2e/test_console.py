"""The saga console in a real browser (Debian's chromium, driven by Playwright).

Orders placed through the API appear on the open page and turn completed or
rejected without a reload (server-sent events); a rejected order's timeline,
opened from the keyboard, shows the refused charge and both compensations.
Nothing is fetched from off this machine.
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Locator, expect

from .browser import Tab
from .conftest import Api, future_slot
from .stack import Stack

FINAL = 30_000  # ms: a saga finishes in well under a second; a loaded CI machine is slower


def test_the_landing_page_links_to_the_console_the_api_docs_and_health(stack: Stack, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{stack.url}/")
    for name in ("Orders", "Billing", "Stock", "Delivery"):
        expect(page.get_by_role("link", name=name, exact=True)).to_have_attribute(
            "href", f"/{name.lower()}/docs"
        )
    expect(page.get_by_role("link", name="Health")).to_have_attribute("href", "/console/api/health")
    page.get_by_role("link", name="Saga console").click()
    expect(page.get_by_role("heading", name="Saga console", level=1)).to_be_visible()
    assert tab.offsite == []


def test_the_console_shows_orders_arrive_and_finish_live_and_a_rejected_saga_as_a_timeline(
    api: Api, stack: Stack, tab: Tab
) -> None:
    page = tab.page
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(f"{stack.url}/console")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")  # the stream's first snapshot
    expect(page.locator("#connection")).to_have_text("Live updates: on")
    page.evaluate("window.notReloaded = true")

    login = api.new_account(1000)
    product = api.new_product(100)
    completed = api.create_order(login, product, 1, 1, future_slot())
    rejected = api.create_order(login, product, 1, 10000, future_slot())  # more than the balance
    assert (completed.status_code, rejected.status_code) == (201, 201), (completed.text, rejected.text)
    ok_id, bad_id = completed.json()["id"], rejected.json()["id"]

    def row(order_id: int) -> Locator:
        return page.locator(f'#orders tbody tr[data-order-id="{order_id}"]')

    expect(row(ok_id).locator(".status")).to_have_text("completed", timeout=FINAL)
    expect(row(bad_id).locator(".status")).to_have_text("rejected", timeout=FINAL)
    expect(row(bad_id).locator(".reason")).to_have_text("insufficient funds")
    expect(row(ok_id).locator("td").nth(3)).to_have_text(login)
    expect(row(ok_id).locator(".duration")).to_have_text(re.compile(r"^\d+\.\d+ s$"))
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator('[data-total="completed"]')).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(page.locator('#reasons [data-reason="insufficient_funds"]')).to_be_visible()

    # Filters: only this login's orders, then only its rejected one.
    page.get_by_label("Login").fill(login)
    expect(page.locator("#orders tbody tr")).to_have_count(2)
    tab.screenshot("console.png")
    page.get_by_label("Status").select_option("rejected")
    expect(page.locator("#orders tbody tr")).to_have_count(1)

    # Keyboard: from the login filter, Tab reaches the order's link; Enter opens its timeline.
    page.get_by_label("Login").focus()
    page.keyboard.press("Tab")
    expect(row(bad_id).get_by_role("link")).to_be_focused()
    page.keyboard.press("Enter")
    timeline = page.locator("#timeline")
    expect(timeline.get_by_role("heading", name=f"Order #{bad_id}")).to_be_focused()

    charge = timeline.locator('li.step[data-step="charge_payment"]')
    expect(charge).to_have_attribute("data-state", "refused")
    expect(charge.locator('[data-event="answered"]')).to_contain_text("answered: refused")
    expect(charge.locator('[data-event="answered"]')).to_contain_text("insufficient funds")
    for step in ("reserve_stock", "reserve_courier"):
        item = timeline.locator(f'li.step[data-step="{step}"]')
        expect(item).to_have_attribute("data-state", "compensated")
        expect(item.locator('[data-event="answered"]')).to_contain_text("answered: ok")
        expect(item.locator('[data-event="compensation_sent"]')).to_contain_text(
            re.compile(r"\(\d+ attempts?\)")
        )
        expect(item.locator('[data-event="compensation_acknowledged"]')).to_contain_text(
            "compensation acknowledged"
        )
    workflow = timeline.get_by_role("link", name=re.compile("workflow status"))
    expect(workflow).to_have_attribute("href", f"/console/api/orders/{bad_id}/workflow")
    # Clearing the filters keeps the timeline open.
    page.get_by_label("Status").select_option("")
    page.get_by_label("Login").fill("")
    expect(row(ok_id)).to_be_visible()
    expect(timeline).to_be_visible()
    tab.screenshot("console-timeline.png")

    # The workflow's status, from the order's sidecar, through the gateway.
    status = api.http.get(f"/console/api/orders/{bad_id}/workflow")
    assert status.status_code == 200, status.text
    assert status.json()["instanceID"] == f"order-{bad_id}"

    page.get_by_role("link", name="Close, back to the orders").press("Enter")
    expect(timeline).to_be_hidden()
    assert (tab.offsite, errors) == ([], [])


def test_the_console_stream_passes_the_gateway_unbuffered(stack: Stack) -> None:
    """The stream passes the gateway as it is written: its first events arrive at once."""
    with httpx.stream("GET", f"{stack.url}/console/api/events", timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        assert next(lines).startswith("retry:")
        assert next(line for line in lines if line.startswith("event:")) == "event: snapshot"
