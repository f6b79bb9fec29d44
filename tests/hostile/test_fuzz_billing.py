"""Property-based fuzzing of billing's public API (see fuzzing.py for the checks)."""

import httpx

from .fuzzing import fuzz
from .siblings import Stack


def test_billing_api_survives_fuzzing(stack: Stack, http: httpx.Client) -> None:
    failures = fuzz(stack, http, "billing")
    assert not failures, "\n\n".join(failures)
