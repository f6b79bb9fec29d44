"""Which Dapr runtimes the system-level suites run on.

Every suite that starts the whole system (end to end, faults, hostile input)
runs once per runtime: localdapr, and the real daprd 1.18 with Postgres and
Redis. `make test` runs both. `SAGA_RUNTIMES=localdapr` narrows a run by hand;
a missing real runtime is an error that says what to install, never a skip.
"""

from __future__ import annotations

import os

import pytest

from .e2e.stack import RUNTIMES


def selected_runtimes() -> list[str]:
    wanted = [r.strip() for r in os.environ.get("SAGA_RUNTIMES", ",".join(RUNTIMES)).split(",") if r.strip()]
    unknown = set(wanted) - set(RUNTIMES)
    if unknown:
        raise pytest.UsageError(f"SAGA_RUNTIMES: unknown runtime(s) {', '.join(sorted(unknown))}")
    return wanted


@pytest.fixture(scope="session", params=selected_runtimes())
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)
