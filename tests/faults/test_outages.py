"""Outages with a cause, on the real Dapr runtime only: each piece of daprd's
infrastructure goes away mid-load and comes back, then every order must end
final and the audit must be clean (`tests/faults/audit.py`).

These tests run on `dapr` alone, whatever `SAGA_RUNTIMES` lists besides: under
localdapr one process is the broker, the scheduler, placement and every state
store, so there is no database, Redis, scheduler or placement of its own to
stop (tests/faults/test_crashes.py kills that process as a whole). They are
skipped only when `SAGA_RUNTIMES` leaves `dapr` out.

Each test starts a stack of its own (the outage must not leak into other tests),
runs a few clients placing the benchmark's mix through the gateway (`load.Load`:
an order refused with a 5xx is asked again with its Idempotency-Key), injects
the outage mid-load, then waits until every order is final and audits. The
step timeouts are the fault stack's short ones (`STACK_ENV`: a step unanswered
for 3 s times out and is compensated), so every outage outlasts them.

- **The billing database stopped for 30 s.** There is one PostgreSQL server with
  a database per service, so stopping the server would stop every service's
  store. Only billing's database is taken away: `ALTER DATABASE billing
  ALLOW_CONNECTIONS false` and `pg_terminate_backend` of its sessions, which is
  what billing's daprd sees when its own database server is down (its pooled
  connections break, new ones are refused), while the other stores carry on.
  After 30 s connections are allowed again. 30 s is about as long as Dapr's
  delivery retries last (`components/resiliency.yaml`: 10, backing off to 5 s),
  so a charge billing kept failing on may end in `billing-commands-dead`: the
  test accepts such a dead letter only for an order whose step timed out and was
  compensated (`explain_dead_letters`); any other fails the audit.
- **Redis stopped for 20 s** (SIGTERM, then the same binary on the same port and
  data folder). Redis runs with `appendonly yes`, `appendfsync everysec` (the
  chart's broker.yaml and dapr_runtime.infra): every write is in the append-only
  file before Redis answers it, and a clean stop flushes that file, so nothing is
  lost; the saga only waits. Publishes fail meanwhile (Dapr retries them, then the
  activity's retry policy does), steps time out and compensations go out late.
- **Redis crashed, losing its last writes.** A `kill -9` of Redis alone normally
  loses nothing (the file was written before each answer; only fsync is deferred).
  What `everysec` can lose is what was not yet fsynced when the machine went
  down: about a second of acknowledged stream entries (commands and replies the
  publishers believe sent) and of consumer-group acknowledgements. The test
  emulates that: it copies Redis' data folder mid-load (the disk at the crash),
  lets 3 s of traffic pass, `kill -9`s Redis, puts the copy back and starts it.
  An entry lost after its delivery changes nothing, so the participants are
  paused (SIGSTOP of their daprd) while those writes happen: the steps asked
  meanwhile time out, and the compensations sent for them wait undelivered.
  Lost compensations are sent again until acknowledged; lost acknowledgements
  make duplicates, which the participants' idempotency absorbs.
- **The scheduler stopped for 20 s.** It holds the workflow reminders (timers,
  activity dispatch) in its embedded etcd, on disk: they fire late, none is lost.
- **Placement stopped for 20 s.** Workflow actors cannot be placed anew; sidecars
  keep their last placement table, and report again once it is back.

Timings are printed (run with `-s` to see them); the tests assert the audit, not timings.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from dapr_runtime.infra import postgres_bindir
from dapr_runtime.processes import Managed, http_ok, listening
from dapr_runtime.system import DaprSystem

from ..conftest import selected_runtimes
from ..e2e.stack import STACK_ENV, Stack, make_stack
from .conftest import Driver
from .load import Load

pytestmark = pytest.mark.skipif(
    "dapr" not in selected_runtimes(),
    reason="outages of daprd's infrastructure; SAGA_RUNTIMES leaves out dapr",
)

BILLING_DB_DOWN = 30.0
REDIS_DOWN = SCHEDULER_DOWN = PLACEMENT_DOWN = 20.0
# The Redis crash loses this many seconds of writes: longer than the step timeout (3 s),
# so the steps asked meanwhile time out and their compensations are among the losses.
CRASH_WINDOW = 5.0


@pytest.fixture(params=["dapr"])
def runtime(request: pytest.FixtureRequest) -> str:
    """`dapr` alone (the test ids say so), whatever `SAGA_RUNTIMES` lists besides."""
    return str(request.param)


@pytest.fixture
def fault_stack(tmp_path_factory: pytest.TempPathFactory, runtime: str) -> Iterator[Stack]:
    """A stack of its own (named as the session one, so a failure shows its logs)."""
    s = make_stack(runtime, tmp_path_factory.mktemp("outage"), env=STACK_ENV, deadletters=True)
    s.start()
    yield s
    s.stop()


def system(driver: Driver) -> DaprSystem:
    s = getattr(driver.stack, "system", None)
    assert isinstance(s, DaprSystem)
    return s


def psql(system: DaprSystem, sql: str) -> str:
    assert system.postgres is not None
    argv = [str(postgres_bindir() / "psql"), "-h", "127.0.0.1", "-p", str(system.postgres.port)]
    result = subprocess.run(
        [*argv, "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def stopped(server: Managed, seconds: float, ready: Callable[[], bool], sig: signal.Signals) -> float:
    """Stop `server` with `sig`, keep it down `seconds`, start it again; see `restart`."""
    assert server.process is not None
    server.process.send_signal(sig)
    server.process.wait(30)
    time.sleep(seconds)
    return restart(server, ready)


def restart(server: Managed, ready: Callable[[], bool]) -> float:
    """Start `server` with the same command line (port, data folder); how long until `ready`."""
    started = time.monotonic()
    server.start()
    server.wait_until(ready, "ready again", timeout=90)
    return time.monotonic() - started


def healthz(server: Managed) -> Callable[[], bool]:
    argv = [str(a) for a in server.argv]
    return http_ok(f"http://127.0.0.1:{argv[argv.index('--healthz-port') + 1]}/healthz")


def under_load(driver: Driver, outage: Callable[[], None], dead_letters_from: str | None = None) -> list[int]:
    """Run `outage` mid-load; once the system takes orders again, stop the load, wait until
    every order is final, and audit. The orders placed.

    `dead_letters_from`: the participant the outage kept from its store past Dapr's delivery
    retries (`components/resiliency.yaml`: 10, about 30 s); see `explain_dead_letters`."""
    load = Load(driver).start()
    load.wait_placed(12)
    outage()
    load.wait_placed(len(load.placed) + 12, timeout=180)  # taking orders again
    ids = load.stop()
    driver.wait_all_final(ids, timeout=300)
    if dead_letters_from is not None:
        explain_dead_letters(driver, dead_letters_from)
    describe(driver, ids, load)
    report = driver.audit()
    assert report.ok, str(report)
    return ids


def explain_dead_letters(driver: Driver, participant: str) -> None:
    """A command `participant` could not handle through all of Dapr's delivery retries went to
    its dead-letter topic. The outage explains it only if its saga did not wait for it: the
    step timed out, the saga compensated, and the order was rejected for `step_timeout`.
    Anything else stays unexplained, and fails the audit."""
    topic = f"{participant}-commands-dead"
    seen: list[dict[str, Any]] | None = None
    while True:  # a last retry may still be running: until the list stops growing
        latest = [e for e in driver.dead_letters() if e["id"] not in driver.ledger.earlier_dead_letters]
        if seen is not None and len(latest) == len(seen):
            break
        seen = latest
        time.sleep(5)
    explained = []
    for event in seen:
        data = event.get("data") or {}
        if event.get("deadletter_topic") != topic or "order_id" not in data:
            continue
        order = driver.http.get(f"/orders/{data['order_id']}").json()
        if (order["status"], order["reason"]) == ("rejected", "step_timeout"):
            why = f"{participant}'s store away past the delivery retries; the step timed out"
            driver.ledger.expect_dead_letter(
                topic, {"order_id": data["order_id"], "action": data["action"]}, why
            )
            explained.append(f"{data['action']} {data['order_id']}")
    print(f"\ndead letters on {topic}, each a step that timed out and was compensated: {explained}")


def describe(driver: Driver, ids: list[int], load: Load) -> None:
    """What the run looked like: outcomes, the longest saga, how clients were answered."""
    orders = [driver.http.get(f"/orders/{i}").json() for i in ids]
    outcomes = Counter(f"{o['status']}/{o.get('reason') or '-'}" for o in orders)
    longest = max(
        datetime.fromisoformat(o["updated_at"]) - datetime.fromisoformat(o["created_at"]) for o in orders
    )
    answers = Counter(a.status or a.error for a in load.answers)
    took = longest.total_seconds()
    print(f"\n{len(ids)} orders {dict(outcomes)}; longest saga {took:.1f}s; answers {dict(answers)}")


def test_billing_database_unavailable_for_30s_mid_load(driver: Driver) -> None:
    s = system(driver)
    database = "billing"
    assert psql(s, f"SELECT 1 FROM pg_database WHERE datname = '{database}'") == "1"

    def outage() -> None:
        psql(s, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        ended = psql(
            s,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()",
        )
        print(f"\nbilling's database: {ended} sessions ended, no connections for {BILLING_DB_DOWN:.0f}s")
        time.sleep(BILLING_DB_DOWN)
        psql(s, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

    under_load(driver, outage, dead_letters_from="billing")


def test_redis_stopped_for_20s_then_started(driver: Driver) -> None:
    s = system(driver)
    assert s.redis is not None and s.redis.server is not None
    redis, server = s.redis, s.redis.server

    def outage() -> None:
        took = stopped(server, REDIS_DOWN, listening(redis.port), signal.SIGTERM)
        print(f"\nRedis down {REDIS_DOWN:.0f}s (SIGTERM), listening again {took:.1f}s after its start")

    under_load(driver, outage)


def test_redis_crash_losing_its_last_seconds_of_writes(driver: Driver) -> None:
    s = system(driver)
    assert s.redis is not None and s.redis.server is not None
    redis, server = s.redis, s.redis.server
    saved = redis.data.parent / "redis-as-on-disk"
    daprd = {app_id: sidecar.server for app_id, sidecar in s.sidecars.items() if sidecar.server}

    def pause(*app_ids: str, sig: signal.Signals = signal.SIGSTOP) -> None:
        for app_id in app_ids:
            process = daprd[app_id].process
            assert process is not None
            process.send_signal(sig)

    def outage() -> None:
        # What the disk held at a crash: the rest of the writes were in the page cache only.
        shutil.copytree(redis.data, saved)
        try:
            # So that what is lost holds messages not yet delivered (a backlog, as under a heavier
            # load), the participants' sidecars are paused while it is written: the steps asked
            # meanwhile time out (3 s here), and the compensations sent for them wait in Redis.
            pause("billing", "stock", "delivery")
            time.sleep(CRASH_WINDOW)
            undelivered = waiting_in(redis.port)
            server.kill()
        finally:
            pause("billing", "stock", "delivery", sig=signal.SIGCONT)
        shutil.rmtree(redis.data)
        shutil.move(saved, redis.data)
        took = restart(server, listening(redis.port))
        earlier = f"{CRASH_WINDOW:.0f} s earlier ({took:.1f}s to start)"
        print(f"\nRedis killed, back as on disk {earlier}; lost: {undelivered}")
        # The window held compensations not yet delivered: the saga must have sent them again.
        assert sum(undelivered.values()) > 0, undelivered

    under_load(driver, outage)


def waiting_in(port: int) -> dict[str, int]:
    """Per topic, the entries its subscriber's consumer group has not been handed yet."""
    lag = {}
    for topic in ("stock-commands", "delivery-commands", "billing-commands", "order-replies"):
        out = subprocess.run(
            ["redis-cli", "-p", str(port), "--json", "XINFO", "GROUPS", topic], capture_output=True, text=True
        )
        groups = json.loads(out.stdout or "[]") if out.returncode == 0 else []
        lag[topic] = sum(int(g.get("lag") or 0) for g in groups if isinstance(g, dict))
    return lag


def test_scheduler_stopped_for_20s_then_started(driver: Driver) -> None:
    s = system(driver)
    assert s.scheduler is not None and s.scheduler.server is not None
    scheduler = s.scheduler.server

    def outage() -> None:
        took = stopped(scheduler, SCHEDULER_DOWN, healthz(scheduler), signal.SIGTERM)
        print(f"\nscheduler down {SCHEDULER_DOWN:.0f}s (SIGTERM), healthy {took:.1f}s after its start")

    under_load(driver, outage)


def test_placement_stopped_for_20s_then_started(driver: Driver) -> None:
    s = system(driver)
    assert s.placement is not None and s.placement.server is not None
    placement = s.placement.server

    def outage() -> None:
        took = stopped(placement, PLACEMENT_DOWN, healthz(placement), signal.SIGTERM)
        print(f"\nplacement down {PLACEMENT_DOWN:.0f}s (SIGTERM), healthy {took:.1f}s after its start")

    under_load(driver, outage)
