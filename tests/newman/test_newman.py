"""The Postman collection, run by Newman against its own local stack, passes every assertion."""

from __future__ import annotations

import pytest

from .run_newman import REPORT, missing_tools, run

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(missing_tools() is not None, reason=missing_tools() or "")
def test_postman_collection_passes_against_a_local_stack() -> None:
    code, output = run(capture=True)
    (REPORT.parent / "newman.txt").write_text(output)
    assert code == 0, f"newman failed (exit {code}); report in {REPORT}\n{output}"
