"""One running system for the hostile-input tests, reached through the gateway.

Package-scoped: the fuzz modules and the internal-route checks share it (each
fuzz example waits for the saga it started, so no module leaves work behind
that could move another's state); the API-token tests start their own.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import httpx
import pytest
from pluggy import Result

from tests.e2e.stack import STACK_ENV, Stack

from .fuzzing import seed


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("hostile"), env=STACK_ENV)
    s.start()
    yield s
    s.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    # On failure, show the tail of every process's log: a request may span five processes.
    outcome = yield
    report = outcome.get_result()
    for name in ("stack", "token_stack"):
        if report.failed and name in getattr(item, "funcargs", {}):
            report.sections.append(("stack logs", item.funcargs[name].logs()))  # type: ignore[attr-defined]


@pytest.fixture(scope="package")
def http(stack: Stack) -> Iterator[httpx.Client]:
    """A client of the gateway, with the fuzzers' seed data in place."""
    with httpx.Client(base_url=stack.url, timeout=60) as client:
        seed(client)
        yield client
