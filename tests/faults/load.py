"""Background load for the outage and shutdown tests: a few clients placing the benchmark's mix.

Each client is a thread with its own keep-alive connection to the gateway. An
order is placed with an `Idempotency-Key` and asked again (same key) after a 5xx
or a connection error until the system takes it, so an outage delays orders but
never loses or doubles one, and every order it created is in the driver's ledger.
Every answer (or error) is kept, for tests that check how clients were answered.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from ..e2e.conftest import future_slot
from .conftest import Driver

CLIENT_TIMEOUT = 20.0  # longer than any answer should take: one that does not come is a hang


@dataclass(frozen=True)
class Answer:
    """How one request ended: a status (with its Retry-After), or the error instead of one."""

    at: float  # time.monotonic() when the request was sent
    took: float  # seconds until its answer or error
    method: str
    status: int | None
    retry_after: str | None = None
    error: str | None = None  # the exception's class name: ConnectError, ReadTimeout, ...

    @property
    def hung(self) -> bool:
        return self.error is not None and "Timeout" in self.error


@dataclass
class Load:
    driver: Driver
    clients: int = 3
    pause: float = 0.1  # between one client's orders
    give_up_after: float = 240.0  # one order retried this long is a failure
    answers: list[Answer] = field(default_factory=list)
    placed: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        d = self.driver
        rich, poor = d.new_account(1_000_000), d.new_account(1)
        plenty, scarce = d.new_product(100_000), d.new_product(3)
        # As `place_mix`: mostly orders that complete, some short of money or of units.
        kinds = [(rich, plenty, 1, 5), (poor, plenty, 1, 5), (rich, scarce, 2, 5), (rich, plenty, 2, 5)]
        for n in range(self.clients):
            t = threading.Thread(target=self._client, args=(kinds, n), name=f"load-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> list[int]:
        """Stop placing orders (one being retried is still seen through); the ids placed."""
        self._stop.set()
        for t in self._threads:
            t.join(self.give_up_after + 30)
        assert not self.failures, self.failures
        return list(self.placed)

    def wait_placed(self, n: int, timeout: float = 60) -> None:
        """Until at least `n` orders were placed: the load is running."""
        deadline = time.monotonic() + timeout
        while len(self.placed) < n:
            assert time.monotonic() < deadline, f"only {len(self.placed)} orders placed in {timeout}s"
            assert not self.failures, self.failures
            time.sleep(0.1)

    def _client(self, kinds: list[tuple[str, int, int, int]], n: int) -> None:
        with httpx.Client(base_url=self.driver.stack.url, timeout=CLIENT_TIMEOUT) as http:
            for i in itertools.count(n):
                if self._stop.is_set():
                    return
                login, product, quantity, amount = kinds[i % len(kinds)]
                try:
                    order_id = self._place(http, login, product, quantity, amount)
                except AssertionError as err:
                    with self._lock:
                        self.failures.append(str(err))
                    return
                with self._lock:
                    self.placed.append(order_id)
                    self.driver.ledger.order(order_id)
                self._stop.wait(self.pause)

    def _place(self, http: httpx.Client, login: str, product: int, quantity: int, amount: int) -> int:
        body = {
            "login": login,
            "e_mail": f"{login}@example.com",
            "id_product": product,
            "quntity": quantity,
            "amount": str(Decimal(amount)),
            "dtime": future_slot().strftime("%Y-%m-%d %H:%M:%S"),
        }
        key = uuid.uuid4().hex
        deadline = time.monotonic() + self.give_up_after
        while True:
            r = self.request(http, "POST", "/orders/", json=body, headers={"Idempotency-Key": key})
            if r is not None and r.status_code in (200, 201):
                return int(r.json()["id"])
            assert r is None or r.status_code >= 500 or r.status_code == 409, (
                f"order refused: {r.status_code} {r.text}"  # 409: the same key still in flight
            )
            assert time.monotonic() < deadline, f"no order taken in {self.give_up_after}s: {r and r.text}"
            retry_after = r.headers.get("Retry-After") if r is not None else None
            time.sleep(float(retry_after) if retry_after else 0.5)

    def request(self, http: httpx.Client, method: str, url: str, **kwargs: object) -> httpx.Response | None:
        """One request, its answer kept; None when there was no answer (the error is kept)."""
        at = time.monotonic()
        try:
            r = http.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as err:
            with self._lock:
                self.answers.append(Answer(at, time.monotonic() - at, method, None, error=type(err).__name__))
            return None
        with self._lock:
            self.answers.append(
                Answer(at, time.monotonic() - at, method, r.status_code, r.headers.get("Retry-After"))
            )
        return r
