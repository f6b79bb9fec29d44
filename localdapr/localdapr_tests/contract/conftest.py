"""Contract-suite targets: the same tests on localdapr and on the real daprd 1.18.

The session fixture `target` is parametrized over the runtimes SAGA_RUNTIMES selects
(default "localdapr,dapr", as for the system suites; `make test` runs both):

- `localdapr`: `localdapr run -f` as a subprocess with two sidecars, `contract` and
  `contract-peer`, over the resources in `resources/`.
- `dapr`: `dapr_runtime.system.DaprSystem` (Postgres, Redis, placement, scheduler and a
  daprd per app, each its own process) over the same resources, pointed at that Postgres
  and Redis. A missing daprd is an error that says how to get it, never a skip.

Either way the two apps (app.py) are served in this process and `restartable` can
`kill -9` the sidecars and start them again. Tests that need sidecars with settings of
their own (tokens, ACL, resiliency) take the `runtime` fixture and `private_sidecars`.

    SAGA_RUNTIMES=dapr pytest localdapr/localdapr_tests/contract     # daprd only
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .runtimes import Sidecar, Target, make_target, selected_runtimes, serve

__all__ = ["SELECTED", "Sidecar", "Target", "localdapr_only"]

SELECTED = selected_runtimes()

# For tests of localdapr's own parts (its broker, its store), which need no sidecar.
localdapr_only = pytest.mark.skipif(
    "localdapr" not in SELECTED, reason="a test of localdapr's internals; SAGA_RUNTIMES excludes localdapr"
)


@pytest.fixture(scope="session", params=SELECTED)
def runtime(request: pytest.FixtureRequest) -> str:
    """The runtime under test, for tests that start sidecars of their own."""
    return str(request.param)


@pytest.fixture(scope="session")
def target(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    from .app import create_apps

    t = make_target(runtime, tmp_path_factory.mktemp(runtime))
    main_app, peer_app = create_apps()
    # The apps listen before the sidecars start: daprd reads /dapr/subscribe once, when ready.
    servers = [serve(main_app, t.main.app_port), serve(peer_app, t.peer.app_port)]
    try:
        t.start()
        yield t
    finally:
        t.stop()
        for server in servers:
            server.should_exit = True


@pytest.fixture(autouse=True)
def _sdk_on_target(request: pytest.FixtureRequest) -> None:
    """With two targets in a session, point the SDK's settings at the current one before each
    test that uses it (a test may also have moved them to the peer, or to a private sidecar)."""
    if "target" in request.fixturenames:
        request.getfixturevalue("target").configure_sdk()


@pytest.fixture
def restartable(target: Target) -> Target:
    """The target, for tests that kill its sidecars and start them again."""
    return target
