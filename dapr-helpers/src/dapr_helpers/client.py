"""The sidecar's HTTP API, over one keep-alive session opened on first use.

State and pub/sub go through Dapr's HTTP API rather than the Python SDK's
`grpc.aio` client, which costs both the caller and the sidecar several times
the CPU per call (figures in docs/benchmark.md). The order app also starts and
signals sagas over HTTP; only the workflow worker stays on the SDK.
Nothing connects at construction, so an app starts before its sidecar; a call
made while the sidecar is away fails at once (`DaprUnavailable`, a 503).
"""

import json
import re
from typing import Any, Protocol

import aiohttp
from dapr.clients.http.helpers import get_api_url
from dapr.conf import settings

from dapr_helpers.tracing import inject

# A failed write says in its message whether the cause is an ETag mismatch or a
# first-write on an existing key (a conflict to retry) or something else.
_CONFLICT_MESSAGE = re.compile(r"etag|no item was updated|first.write", re.IGNORECASE)


class DaprUnavailable(ConnectionError):
    """The sidecar did not answer (not started, restarting, or gone)."""


class DaprHttpError(Exception):
    """The sidecar answered with an error: `status`, Dapr's `errorCode` and its message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def is_conflict(self) -> bool:
        """An ETag mismatch (409, or a 500 naming it) or a first-write on an existing key."""
        return self.status == 409 or (self.status == 500 and bool(_CONFLICT_MESSAGE.search(self.message)))


class DaprRequests(Protocol):
    """What the state, pub/sub and invocation adapters use of `DaprHttp` (tests pass fakes)."""

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, str | None]: ...


class DaprHttp:
    """`request(method, path, body)` against `{DAPR_HTTP_ENDPOINT}/v1.0/...`.

    The session belongs to the event loop of its first call: an app with a
    second loop (the workflow worker's) makes a second `DaprHttp`.
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"dapr-api-token": settings.DAPR_API_TOKEN} if settings.DAPR_API_TOKEN else None
            self._session = aiohttp.ClientSession(headers=headers, timeout=self.timeout)
        return self._session

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, str | None]:
        """The status, the body and the ETag header; an error status raises `DaprHttpError`."""
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        # The current span's traceparent: daprd carries it into CloudEvents and invocations.
        headers = inject({} if data is None else {"content-type": "application/json"})
        try:
            async with self.session.request(
                method, f"{get_api_url()}{path}", data=data, headers=headers
            ) as r:
                content = await r.read()
                status, etag = r.status, r.headers.get("ETag")
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            raise DaprUnavailable(f"Dapr sidecar unreachable: {err}") from None
        if status >= 400:
            raise _error(status, content)
        return status, content, etag

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _error(status: int, content: bytes) -> DaprHttpError:
    try:
        body = json.loads(content)
        # Dapr's own error, or an app's problem details passed through by service invocation.
        code = body.get("errorCode") or body.get("code") or ""
        return DaprHttpError(status, str(code), str(body.get("message") or body.get("detail") or ""))
    except (ValueError, AttributeError):
        return DaprHttpError(status, "", content.decode(errors="replace"))
