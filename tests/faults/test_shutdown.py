"""Graceful shutdown under load, on both runtimes: SIGTERM each app in turn, then restart it.

What `dapr_helpers.shutdown` and uvicorn's `--timeout-graceful-shutdown 5` promise:

- the app exits within `BOUND` seconds of SIGTERM, and no request of it had to
  be cancelled by uvicorn's own bound (the order API's long-polls end at once);
- every client gets an answer, or a 503 with `Retry-After`, never a hang:
  a client on the app's own port (a keep-alive connection, as the gateway or the
  sidecar keeps) gets answers, then 503s with `Retry-After` (and `Connection:
  close`), then a refused connection once the app no longer listens; the load on
  the gateway gets answers, 503s with `Retry-After`, or the gateway's 502 while
  nothing listens (an ingress without endpoints), and no request times out.
  One race is every server's: a connection accepted just before uvicorn closes
  its listener, its request not yet read, is closed unanswered (a read error at
  once, which a client retries like a refused connection); allowed, if immediate;
- after the restart every saga completes (what the order app's worker held is
  handed back: Dapr runs its activities again once the worker reconnects; a
  participant's commands refused with 503 are redelivered) and the audit is clean.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from ..e2e.stack import STACK_ENV, Stack, make_stack
from .conftest import Driver
from .load import CLIENT_TIMEOUT, Answer, Load

BOUND = 10.0  # seconds from SIGTERM to exit: uvicorn's 5 s for requests in flight, plus the lifespan's
CANCELLED = "timeout graceful shutdown exceeded"  # uvicorn's log line when it had to cancel requests


@pytest.fixture
def fault_stack(tmp_path_factory: pytest.TempPathFactory, runtime: str) -> Iterator[Stack]:
    """A stack of its own (named as the session one, so a failure shows its logs)."""
    s = make_stack(runtime, tmp_path_factory.mktemp(f"shutdown-{runtime}"), env=STACK_ENV, deadletters=True)
    s.start()
    yield s
    s.stop()


IMMEDIATE = 2.0  # seconds: an error without an answer, later than this, counts as a hang
NO_LISTENER = ("ConnectError", "ReadError", "RemoteProtocolError")  # refused, or closed unread


class Prober:
    """A client on one app's own port: cheap reads in a loop, on a keep-alive connection,
    plus (on the order app) long-polls on the newest orders; every answer kept."""

    def __init__(self, url: str, path: str, load: Load, long_poll: bool) -> None:
        self.load = load
        self.path = path
        self.long_poll = long_poll
        self.answers: list[Answer] = []
        self.polls: list[tuple[float, float, int | None]] = []  # (sent, answered, status)
        self._stop = threading.Event()
        self._http = httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT)
        self._threads = [threading.Thread(target=self._reads, daemon=True)]
        if long_poll:
            self._threads += [threading.Thread(target=self._polls, daemon=True) for _ in range(3)]
        for t in self._threads:
            t.start()

    def _reads(self) -> None:
        while not self._stop.is_set():
            at = time.monotonic()
            try:
                r = self._http.get(self.path)
            except httpx.HTTPError as err:
                self.answers.append(Answer(at, time.monotonic() - at, "GET", None, error=type(err).__name__))
                self._stop.wait(0.05)  # not listening (any more): ask again, without spinning
                continue
            took = time.monotonic() - at
            self.answers.append(Answer(at, took, "GET", r.status_code, r.headers.get("Retry-After")))

    def _polls(self) -> None:
        with httpx.Client(base_url=str(self._http.base_url), timeout=CLIENT_TIMEOUT) as http:
            while not self._stop.is_set():
                if not self.load.placed:
                    self._stop.wait(0.1)
                    continue
                at = time.monotonic()
                try:
                    status: int | None = http.get(
                        f"/orders/{self.load.placed[-1]}", params={"wait": 30}
                    ).status_code
                except httpx.HTTPError as err:
                    status = None
                    self.answers.append(
                        Answer(at, time.monotonic() - at, "GET", None, error=type(err).__name__)
                    )
                    self._stop.wait(0.05)
                self.polls.append((at, time.monotonic(), status))

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(CLIENT_TIMEOUT + 5)
        self._http.close()


def probe_path(driver: Driver, app_id: str, load: Load) -> str:
    """A cheap read of the app's own API."""
    login = next(iter(driver.ledger.refills))
    product = next(iter(driver.ledger.units_added))
    return {
        "order": f"/orders/{load.placed[0]}",
        "billing": f"/billing/account/{login}",
        "stock": f"/stock/{product}",
        "delivery": "/delivery?limit=1",
    }[app_id]


def bad_answers(answers: list[Answer], gateway: bool) -> list[Answer]:
    """Answers a client must never get: a hang, a 503 without Retry-After, any other 5xx than
    the gateway's 502 (nothing listening), or an error other than a connection refused or
    closed unread, at once."""
    unavailable = (502, 503) if gateway else (503,)
    return [
        a
        for a in answers
        if (a.status is None and (a.error not in NO_LISTENER or a.took > IMMEDIATE))
        or (a.status == 503 and not a.retry_after)
        or (a.status is not None and a.status >= 500 and a.status not in unavailable)
    ]


def terminate(driver: Driver, app_id: str) -> float:
    """SIGTERM the app; the seconds until it exited (it is killed after 30)."""
    process = driver.stack.apps[app_id].process
    assert process is not None
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert code in (0, -signal.SIGTERM), f"{app_id} exited with {code}"  # uvicorn re-raises the signal
    return time.monotonic() - sent


def test_each_app_terminated_mid_load_exits_in_bound_and_every_saga_completes(driver: Driver) -> None:
    load = Load(driver).start()
    load.wait_placed(8)
    seen: dict[str, str] = {}
    for app_id in ("order", "billing", "stock", "delivery"):
        log = driver.stack.workdir / f"{app_id}.log"
        log_start = log.stat().st_size
        prober = Prober(
            driver.stack.app_url(app_id), probe_path(driver, app_id, load), load, app_id == "order"
        )
        time.sleep(1.5)  # reads and long-polls in flight
        sent = time.monotonic()
        took = terminate(driver, app_id)
        time.sleep(0.5)  # the probe meets the closed port
        prober.stop()
        driver.stack.start_app(app_id)

        assert took < BOUND, f"{app_id} took {took:.1f}s to exit after SIGTERM"
        tail = log.read_bytes()[log_start:].decode(errors="replace")
        assert CANCELLED not in tail, f"{app_id}: uvicorn had to cancel requests:\n{tail[-2000:]}"
        assert not bad_answers(prober.answers, gateway=False), bad_answers(prober.answers, gateway=False)
        after = Counter(a.status or a.error for a in prober.answers if a.at >= sent)
        polls = [(answered - sent, status) for at, answered, status in prober.polls if at < sent <= answered]
        seen[app_id] = f"exit {took:.1f}s; after SIGTERM {dict(after)}; long-polls ended {polls}"
        if app_id == "order":
            # A long-poll in flight ended at once with the order as it was, not at its 30 s.
            # (One sent just as the signal came may meet the 503 or the closed port instead.)
            assert all(delay < IMMEDIATE and status in (200, 503, None) for delay, status in polls), polls
        load.wait_placed(len(load.placed) + 4, timeout=120)  # taking orders again

    ids = load.stop()
    assert not bad_answers(load.answers, gateway=True), bad_answers(load.answers, gateway=True)
    driver.wait_all_final(ids, timeout=240)
    report = driver.audit()
    assert report.ok, str(report)
    print(f"\n{len(ids)} orders; load answers {dict(Counter(a.status or a.error for a in load.answers))}")
    for app_id, line in seen.items():
        print(f"{app_id}: {line}")
