"""Does the account, the product exist? Asked of billing and stock by Dapr service invocation.

The sidecar's HTTP invocation API is called through `DaprHttp`, over one
keep-alive session: the SDK's `invoke_method` opens a new aiohttp session, so a
new TCP connection, for every call, and two of them sit on the path of every
order created.
"""

import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlencode

from dapr_helpers.client import DaprHttpError, DaprRequests, DaprUnavailable

log = logging.getLogger(__name__)


class DirectoryUnavailable(Exception):
    """The participant could not answer; the client should retry later (503)."""

    code = "dependency_unavailable"


class Directory(Protocol):
    async def account_exists(self, login: str) -> bool: ...
    async def product_exists(self, product_id: int) -> bool: ...


class DaprDirectory:
    """`GET directory/account?login=` on app `billing`, `GET directory/product?id=` on app `stock`.

    Both answer 200 `{"exists": bool}`: an unknown account is an answer, not a
    failure that daprd's resiliency would retry and count towards the circuit
    breaker. `dapr` carries the timeout, so a request never hangs on a sidecar
    that does not answer.
    """

    def __init__(self, dapr: DaprRequests, billing_app_id: str, stock_app_id: str) -> None:
        self.dapr = dapr
        self.billing = billing_app_id
        self.stock = stock_app_id

    async def account_exists(self, login: str) -> bool:
        return await self._exists(self.billing, "directory/account", {"login": login})

    async def product_exists(self, product_id: int) -> bool:
        return await self._exists(self.stock, "directory/product", {"id": str(product_id)})

    async def _exists(self, app_id: str, method: str, query: dict[str, str]) -> bool:
        path = f"/invoke/{app_id}/method/{method}?{urlencode(query)}"
        try:
            _, body, _ = await self.dapr.request("GET", path)
            return bool(json.loads(body)["exists"])
        except DaprUnavailable as err:
            log.warning("invoking %s %s failed: %s", app_id, method, err)
            raise DirectoryUnavailable(f"{app_id} is unreachable") from None
        except DaprHttpError as err:
            raise DirectoryUnavailable(f"{app_id} answered {err.status}") from None
        except (ValueError, KeyError, TypeError):
            raise DirectoryUnavailable(f"{app_id} gave an unreadable answer") from None


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
