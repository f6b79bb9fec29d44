"""Property-based fuzzing of order's public API (see fuzzing.py for the checks)."""

import httpx

from tests.e2e.stack import Stack

from .fuzzing import fuzz


def test_order_api_survives_fuzzing(stack: Stack, http: httpx.Client) -> None:
    failures = fuzz(stack, http, "order")
    assert not failures, "\n\n".join(failures)
