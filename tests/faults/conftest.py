"""A stack of its own for fault tests: processes get killed here, so it is not the e2e one.

It runs the audit's dead-letter subscriber and the e2e stack's short step
timeouts; delivery retries are the repository's own (components/resiliency.yaml).
Each test keeps a `Ledger` of what it did and ends with the audit (`tests/faults/audit.py`).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from pluggy import Result

from ..e2e.conftest import Api, future_slot
from ..e2e.polling import eventually
from ..e2e.stack import DEADLETTERS_APP, STACK_ENV, Stack, make_stack
from .audit import AuditReport, Ledger, audit_sync


class Driver(Api):
    """The public API, keeping the ledger the audit checks against."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack.url)
        self.stack = stack
        self.ledger = Ledger()
        self.ledger.earlier_dead_letters = {e["id"] for e in self.dead_letters()}

    def new_account(self, balance: Decimal | int = 0) -> str:
        login = super().new_account(balance)
        self.ledger.account(login, balance)
        return login

    def new_product(self, quantity: int) -> int:
        product = super().new_product(quantity)
        self.ledger.product(product, quantity)
        return product

    def place(self, login: str, product: int, quantity: int, amount: Decimal | int) -> int:
        r = self.create_order(login, product, quantity, amount, future_slot())
        assert r.status_code == 201, r.text
        self.ledger.order(r.json()["id"])
        return int(r.json()["id"])

    def place_many(self, orders: list[tuple[str, int, int, Decimal | int]]) -> list[int]:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(lambda args: self.place(*args), orders))

    def place_mix(self, n: int) -> list[int]:
        """n orders at once: mostly ones that complete, some short of money or of units."""
        rich, poor = self.new_account(10_000), self.new_account(1)
        plenty, scarce = self.new_product(1_000), self.new_product(1)
        kinds = [(rich, plenty, 1, 5), (poor, plenty, 1, 5), (rich, scarce, 2, 5), (rich, plenty, 2, 5)]
        return self.place_many([kinds[i % len(kinds)] for i in range(n)])

    def wait_recovered(self, timeout: float = 60) -> None:
        """Until an order completes, so that a test starts on a stack recovered from the
        last one's faults: after a participant was down, the order sidecar's circuit
        breaker for it stays open 5 s (components/resiliency.yaml), longer than these
        stacks' 3 s step timeout, and every order placed meanwhile would time out."""
        login, product = self.new_account(1_000), self.new_product(1_000)

        def one_completes() -> bool:
            r = self.create_order(login, product, 1, 1, future_slot())
            if r.status_code != 201:
                return False
            self.ledger.order(r.json()["id"])
            return bool(self.wait_final(r.json()["id"])["status"] == "completed")

        eventually(one_completes, "an order completed after the last test's faults", timeout, interval=0.5)

    def statuses(self, ids: list[int]) -> dict[int, str]:
        return {i: self.http.get(f"/orders/{i}").json()["status"] for i in ids}

    def wait_all_final(self, ids: list[int], timeout: float = 90) -> None:
        """Every order final within `timeout`; a 5xx (a sidecar still reconnecting) is asked again."""
        deadline = time.monotonic() + timeout
        for order_id in ids:
            while True:
                left = max(1, int(deadline - time.monotonic()))
                r = self.http.get(f"/orders/{order_id}", params={"wait": min(left, 30)})
                if r.status_code == 200 and r.json()["status"] != "pending":
                    break
                assert r.status_code in (200, 502, 503, 504), r.text
                assert time.monotonic() < deadline, f"order {order_id} not final after {timeout}s: {r.text}"
                if r.status_code != 200:
                    time.sleep(0.2)  # a 5xx answers at once: do not spin

    def audit(self, settle_seconds: int = 30) -> AuditReport:
        return audit_sync(
            self.stack.url, self.ledger, self.stack.app_url(DEADLETTERS_APP), settle_seconds=settle_seconds
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.http.get(f"{self.stack.app_url(DEADLETTERS_APP)}/dead-letters").json()


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory, runtime: str) -> Iterator[Stack]:
    s = make_stack(runtime, tmp_path_factory.mktemp(f"faults-{runtime}"), env=STACK_ENV, deadletters=True)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def driver(fault_stack: Stack) -> Iterator[Driver]:
    d = Driver(fault_stack)
    d.wait_recovered()
    yield d
    d.http.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and "fault_stack" in getattr(item, "funcargs", {}):
        report.sections.append(("stack logs", item.funcargs["fault_stack"].logs()))  # type: ignore[attr-defined]
