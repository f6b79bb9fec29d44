"""Property-based fuzzing of delivery's public API (see fuzzing.py for the checks)."""

import httpx

from tests.e2e.stack import Stack

from .fuzzing import fuzz


def test_delivery_api_survives_fuzzing(stack: Stack, http: httpx.Client) -> None:
    failures = fuzz(stack, http, "delivery")
    assert not failures, "\n\n".join(failures)
