"""Health endpoints, as the SDK uses them (dapr/clients/health.py)."""

import httpx
from dapr.clients import DaprClient

from .conftest import Target


def test_sdk_client_connects_after_outbound_health_check(target: Target) -> None:
    # DaprClient() blocks until GET /v1.0/healthz/outbound answers 2xx.
    with DaprClient(address=target.main.grpc_address):
        pass


def test_healthz_is_204(target: Target) -> None:
    assert httpx.get(f"{target.main.http_url}/v1.0/healthz").status_code == 204
