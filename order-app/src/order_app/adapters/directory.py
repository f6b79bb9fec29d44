"""Does the account, the product exist? Asked of billing and stock by Dapr service invocation."""

import asyncio
import logging
from typing import Any, Protocol

from dapr.clients.exceptions import DaprHttpError, DaprInternalError

log = logging.getLogger(__name__)


class DirectoryUnavailable(Exception):
    """The participant could not answer; the client should retry later (503)."""

    code = "dependency_unavailable"


class Directory(Protocol):
    async def account_exists(self, login: str) -> bool: ...
    async def product_exists(self, product_id: int) -> bool: ...


class DaprDirectory:
    """`GET billing/account/{login}` on app `billing`, `GET stock/{id}` on app `stock`."""

    def __init__(self, client: Any, billing_app_id: str, stock_app_id: str, timeout: float = 10.0) -> None:
        self.client = client
        self.billing = billing_app_id
        self.stock = stock_app_id
        self.timeout = timeout  # bounds the sidecar's health wait too, so a request never hangs

    async def account_exists(self, login: str) -> bool:
        return await self._exists(self.billing, f"billing/account/{login}")

    async def product_exists(self, product_id: int) -> bool:
        return await self._exists(self.stock, f"stock/{product_id}")

    async def _exists(self, app_id: str, method: str) -> bool:
        try:
            async with asyncio.timeout(self.timeout):
                await self.client.invoke_method(app_id, method, http_verb="GET")
        except DaprHttpError as err:
            if err.status_code == 404:
                return False
            raise DirectoryUnavailable(f"{app_id} answered {err.status_code}") from None
        except (DaprInternalError, OSError, TimeoutError) as err:
            log.warning("invoking %s %s failed: %s", app_id, method, err)
            raise DirectoryUnavailable(f"{app_id} is unreachable") from None
        return True
