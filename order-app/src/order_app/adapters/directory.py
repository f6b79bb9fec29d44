"""Does the account, the product exist? Asked of billing and stock by Dapr service invocation.

The sidecar's HTTP invocation API is called over one keep-alive session: the
SDK's `invoke_method` opens a new aiohttp session, so a new TCP connection, for
every call, and two of them sit on the path of every order created.
"""

import asyncio
import logging
from typing import Protocol

import aiohttp
from dapr.clients.http.helpers import get_api_url
from dapr.conf import settings

log = logging.getLogger(__name__)


class DirectoryUnavailable(Exception):
    """The participant could not answer; the client should retry later (503)."""

    code = "dependency_unavailable"


class Directory(Protocol):
    async def account_exists(self, login: str) -> bool: ...
    async def product_exists(self, product_id: int) -> bool: ...


class DaprDirectory:
    """`GET billing/account/{login}` on app `billing`, `GET stock/{id}` on app `stock`."""

    def __init__(self, billing_app_id: str, stock_app_id: str, timeout: float = 10.0) -> None:
        self.billing = billing_app_id
        self.stock = stock_app_id
        self.timeout = timeout  # a request never hangs on a sidecar that does not answer
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:  # created in the serving loop, on first use
            headers = {"dapr-api-token": settings.DAPR_API_TOKEN} if settings.DAPR_API_TOKEN else None
            self._session = aiohttp.ClientSession(headers=headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def account_exists(self, login: str) -> bool:
        return await self._exists(self.billing, f"billing/account/{login}")

    async def product_exists(self, product_id: int) -> bool:
        return await self._exists(self.stock, f"stock/{product_id}")

    async def _exists(self, app_id: str, method: str) -> bool:
        url = f"{get_api_url()}/invoke/{app_id}/method/{method}"
        try:
            async with asyncio.timeout(self.timeout), self.session.get(url) as r:
                status = r.status
                await r.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            log.warning("invoking %s %s failed: %s", app_id, method, err)
            raise DirectoryUnavailable(f"{app_id} is unreachable") from None
        if status == 404:
            return False
        if not 200 <= status < 300:
            raise DirectoryUnavailable(f"{app_id} answered {status}")
        return True
