"""One running system per test session, reached through the gateway like a user."""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pluggy import Result

from .browser import browser, tab  # noqa: F401 - fixtures for the browser tests
from .stack import STACK_ENV, Stack, make_stack


class Api:
    """The public API as a user of the gateway sees it."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=40)

    def new_account(self, balance: Decimal | int = 0) -> str:
        login = f"user-{uuid.uuid4().hex[:10]}"
        assert self.http.post("/billing/register", params={"login": login}).status_code in (200, 201)
        if balance:
            r = self.http.post("/billing/refill", json={"login": login, "amount": str(balance)})
            assert r.status_code == 200, r.text
        return login

    def new_product(self, quantity: int) -> int:
        r = self.http.post(
            "/stock/register", json={"description": f"item-{uuid.uuid4().hex[:6]}", "quantity": quantity}
        )
        assert r.status_code in (200, 201), r.text
        return int(r.json()["id"])

    def balance(self, login: str) -> Decimal:
        r = self.http.get(f"/billing/account/{login}")
        assert r.status_code == 200, r.text
        return Decimal(str(r.json()["balance"]))

    def available(self, product_id: int) -> int:
        r = self.http.get("/stock")
        assert r.status_code == 200, r.text
        return next(int(p["quantity"]) for p in r.json() if p["id"] == product_id)

    def listing(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every entry of a paged listing (newest first), following each `rel="next"` Link."""
        items: list[dict[str, Any]] = []
        r = self.http.get(path, params={"limit": 100, **params})
        total = r.headers.get("X-Total-Count")  # entries added while paging come before the first page
        while True:
            assert r.status_code == 200, r.text
            items += r.json()
            if "next" not in r.links:  # today's unpaged listings answer one page
                break
            r = self.http.get(r.links["next"]["url"])
        assert total is None or int(total) == len(items), (path, total, len(items))
        return items

    def bookings(self, order_ids: set[int] | None = None) -> list[dict[str, Any]]:
        """The couriers held now (a released booking may be listed, with its status)."""
        return [
            b
            for b in self.listing("/delivery")
            if b.get("status", "booked") == "booked" and (order_ids is None or b["id_order"] in order_ids)
        ]

    def create_order(
        self,
        login: str,
        product_id: int,
        quantity: int,
        amount: Decimal | int | str,
        dtime: datetime,
        **headers: str,
    ) -> httpx.Response:
        body = {
            "login": login,
            "e_mail": f"{login}@example.com",
            "id_product": product_id,
            "quntity": quantity,
            "amount": float(amount) if isinstance(amount, int) else str(amount),
            "dtime": dtime.strftime("%Y-%m-%d %H:%M:%S"),
        }
        return self.http.post("/orders/", json=body, headers=headers)

    def wait_final(self, order_id: int, timeout: int = 30) -> dict[str, Any]:
        r = self.http.get(f"/orders/{order_id}", params={"wait": timeout})
        assert r.status_code == 200, r.text
        order = r.json()
        assert order["status"] in ("completed", "rejected"), order
        return order


def future_slot(days: int | None = None) -> datetime:
    """A unique one-hour slot in the future, so runs never share a courier slot."""
    offset = days if days is not None else 400 + uuid.uuid4().int % 20000
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    return base + timedelta(hours=offset)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, runtime: str) -> Iterator[Stack]:
    s = make_stack(runtime, tmp_path_factory.mktemp(f"stack-{runtime}"), env=STACK_ENV)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def api(stack: Stack) -> Iterator[Api]:
    client = Api(stack.url)
    yield client
    client.http.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    # On failure, show the tail of every process's log: the saga spans five processes.
    outcome = yield
    report = outcome.get_result()
    if report.failed and "stack" in getattr(item, "funcargs", {}):
        report.sections.append(("stack logs", item.funcargs["stack"].logs()))  # type: ignore[attr-defined]
