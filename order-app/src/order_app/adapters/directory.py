"""Does the account, the product exist? Asked of billing and stock by Dapr service invocation.

The sidecar's HTTP invocation API is called through `DaprHttp`, over one
keep-alive session: the SDK's `invoke_method` opens a new aiohttp session, so a
new TCP connection, for every call, and two of them sit on the path of every
order created.
"""

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

from dapr_helpers.client import DaprHttp, DaprHttpError, DaprUnavailable

log = logging.getLogger(__name__)


class DirectoryUnavailable(Exception):
    """The participant could not answer; the client should retry later (503)."""

    code = "dependency_unavailable"


class Directory(Protocol):
    async def account_exists(self, login: str) -> bool: ...
    async def product_exists(self, product_id: int) -> bool: ...


class DaprDirectory:
    """`GET billing/account/{login}` on app `billing`, `GET stock/{id}` on app `stock`.

    `dapr` carries the timeout, so a request never hangs on a sidecar that does not answer.
    """

    def __init__(self, dapr: DaprHttp, billing_app_id: str, stock_app_id: str) -> None:
        self.dapr = dapr
        self.billing = billing_app_id
        self.stock = stock_app_id

    async def account_exists(self, login: str) -> bool:
        return await self._exists(self.billing, f"billing/account/{login}")

    async def product_exists(self, product_id: int) -> bool:
        return await self._exists(self.stock, f"stock/{product_id}")

    async def _exists(self, app_id: str, method: str) -> bool:
        try:
            await self.dapr.request("GET", f"/invoke/{app_id}/method/{method}")
        except DaprUnavailable as err:
            log.warning("invoking %s %s failed: %s", app_id, method, err)
            raise DirectoryUnavailable(f"{app_id} is unreachable") from None
        except DaprHttpError as err:
            if err.status == 404:
                return False
            raise DirectoryUnavailable(f"{app_id} answered {err.status}") from None
        return True


class RememberingDirectory:
    """Remembers what exists, so each account and product is asked about once.

    Sound because existence only ever grows here: billing and stock have no
    delete. An unknown answer is never remembered (the account may be opened a
    moment later), and the memory is bounded, oldest forgotten first. This
    saves two service invocations on nearly every order; the saga's own steps
    still check everything that matters (funds, units) at the source.
    """

    def __init__(self, inner: Directory, size: int = 10_000) -> None:
        self.inner = inner
        self.size = size
        self._known: OrderedDict[tuple[str, str | int], None] = OrderedDict()

    async def account_exists(self, login: str) -> bool:
        return await self._exists(("account", login), lambda: self.inner.account_exists(login))

    async def product_exists(self, product_id: int) -> bool:
        return await self._exists(("product", product_id), lambda: self.inner.product_exists(product_id))

    async def _exists(self, key: tuple[str, str | int], ask: Callable[[], Awaitable[bool]]) -> bool:
        if key in self._known:
            self._known.move_to_end(key)
            return True
        if not await ask():
            return False
        self._known[key] = None
        if len(self._known) > self.size:
            self._known.popitem(last=False)
        return True
