"""The Postman collection, run by Newman against its own local stack, passes every assertion."""

from __future__ import annotations

import os

import pytest

from .run_newman import missing_tools, report, run

pytestmark = pytest.mark.e2e


def test_postman_collection_passes_against_a_local_stack(runtime: str) -> None:
    # `make test` installs Newman and sets REQUIRE_NEWMAN, so there it can only pass or fail.
    if (missing := missing_tools()) is not None:
        if os.environ.get("REQUIRE_NEWMAN"):
            pytest.fail(missing)
        pytest.skip(missing)
    code, output = run(capture=True, runtime=runtime)
    report(runtime).with_suffix(".txt").write_text(output)
    assert code == 0, f"newman failed (exit {code}); report in {report(runtime)}\n{output}"
