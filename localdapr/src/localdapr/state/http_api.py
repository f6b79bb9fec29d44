"""The HTTP state API (`/v1.0/state/...`), as daprd's `pkg/api/http/http.go` serves it.

Values travel as JSON: a saved `value` is stored as its JSON text (as the
postgresql component marshals it) and returned as is; the ETag goes out in the
`ETag` header and comes in as the item's `etag` (save) or `If-Match` (delete);
metadata comes from `metadata.*` query parameters; a missing key is a 204.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import store as st
from .api import INVALID_ARGUMENT, ApiError, Op, StateAPI

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
METADATA_PREFIX = "metadata."


def _error_response(err: ApiError) -> web.Response:
    return web.json_response(err.http_body(), status=err.http_status)


def _malformed(message: str) -> ApiError:
    return ApiError(*INVALID_ARGUMENT, "ERR_MALFORMED_REQUEST", message)


def _query_metadata(request: web.Request) -> dict[str, str]:
    return {k[len(METADATA_PREFIX) :]: v for k, v in request.query.items() if k.startswith(METADATA_PREFIX)}


def _json_value(value: Any) -> bytes:
    """The JSON text the component stores for a decoded value."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


async def _body(request: web.Request, *, bulk_style: bool = False) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise _malformed(f"failed deserializing HTTP body: {exc}" if bulk_style else str(exc)) from None


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _malformed(f"{what} must be an object of strings")
    return dict(value)


def _options(item: dict[str, Any]) -> str:
    options = item.get("options") or {}
    return str(options.get("concurrency") or "") if isinstance(options, dict) else ""


def _etag_field(item: dict[str, Any]) -> str | None:
    etag = item.get("etag")
    return None if etag is None else str(etag)


def _set_request(item: Any, extra_metadata: dict[str, str]) -> st.SetRequest:
    if not isinstance(item, dict):
        raise _malformed("each state item must be an object")
    metadata = {**_str_map(item.get("metadata"), "metadata"), **extra_metadata}
    return st.SetRequest(
        key=str(item.get("key") or ""),
        value=_json_value(item.get("value")),
        is_json=True,
        content_type=metadata.get("contentType"),
        etag=_etag_field(item),
        metadata=metadata,
        concurrency=_options(item),
    )


def _json_data(value: bytes) -> Any:
    """A stored value embedded in a JSON response (json.RawMessage in daprd)."""
    try:
        return json.loads(value)
    except ValueError:
        return value.decode("utf-8", "replace")  # bytes saved over gRPC that are not JSON


class StateHttp:
    def __init__(self, api: StateAPI) -> None:
        self.api = api

    def routes(self) -> list[web.RouteDef]:
        return [
            # `[^/]+`: aiohttp's default `{key}` refuses `{` and `}`, which daprd's router allows.
            web.get("/v1.0/state/{store}/{key:[^/]+}", self._wrap(self.get_state)),
            web.delete("/v1.0/state/{store}/{key:[^/]+}", self._wrap(self.delete_state)),
            web.post("/v1.0/state/{store}", self._wrap(self.save_state)),
            web.put("/v1.0/state/{store}", self._wrap(self.save_state)),
            web.post("/v1.0/state/{store}/bulk", self._wrap(self.bulk_get)),
            web.put("/v1.0/state/{store}/bulk", self._wrap(self.bulk_get)),
            web.post("/v1.0/state/{store}/transaction", self._wrap(self.transaction)),
            web.put("/v1.0/state/{store}/transaction", self._wrap(self.transaction)),
            web.post("/v1.0-alpha1/state/{store}/query", self._wrap(self.query)),
            web.put("/v1.0-alpha1/state/{store}/query", self._wrap(self.query)),
        ]

    @staticmethod
    def _wrap(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ApiError as err:
                return _error_response(err)

        return run

    async def get_state(self, request: web.Request) -> web.StreamResponse:
        item = self.api.get(request.match_info["store"], request.match_info["key"])
        if item is None:
            return web.Response(status=204)
        headers = {"ETag": item.etag}
        headers.update({METADATA_PREFIX + k: v for k, v in item.metadata.items()})
        return web.Response(body=item.value, status=200, content_type="application/json", headers=headers)

    async def save_state(self, request: web.Request) -> web.StreamResponse:
        store = request.match_info["store"]
        self.api.check_store(store)
        items = await _body(request)
        if not isinstance(items, list):
            raise _malformed("json: cannot unmarshal object into Go value of type []state.SetRequest")
        metadata = _query_metadata(request)
        reqs = [_set_request(item, metadata) for item in items]
        if any(not r.key for r in reqs):
            raise _malformed('"key" is a required field')
        self.api.save(store, reqs)
        return web.Response(status=204)

    async def delete_state(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        req = st.DeleteRequest(
            key=key,
            etag=request.headers.get("If-Match"),
            metadata=_query_metadata(request),
            concurrency=request.query.get("concurrency", ""),
        )
        self.api.delete(request.match_info["store"], key, req)
        return web.Response(status=204)

    async def bulk_get(self, request: web.Request) -> web.StreamResponse:
        store = request.match_info["store"]
        self.api.check_store(store)
        body = await _body(request, bulk_style=True)
        keys = body.get("keys") if isinstance(body, dict) else None
        if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
            raise _malformed("failed deserializing HTTP body: keys must be an array of strings")
        out: list[dict[str, Any]] = []
        for key, item in self.api.bulk_get(store, keys or []):
            entry: dict[str, Any] = {"key": key}
            if item is not None:
                entry["data"] = _json_data(item.value)
                entry["etag"] = item.etag
                if item.metadata:
                    entry["metadata"] = item.metadata
            out.append(entry)
        return web.json_response(out)

    async def transaction(self, request: web.Request) -> web.StreamResponse:
        store = request.match_info["store"]
        self.api.check_store(store)
        body = await _body(request, bulk_style=True)
        if not isinstance(body, dict):
            raise _malformed("failed deserializing HTTP body: expected an object")
        ops: list[Op] = []
        for o in body.get("operations") or []:
            if not isinstance(o, dict):
                raise _malformed("failed deserializing HTTP body: operations must be objects")
            operation = str(o.get("operation", ""))
            item = o.get("request") or {}
            if not isinstance(item, dict):
                raise _malformed("failed deserializing HTTP body: request must be an object")
            if operation == "delete":
                req: st.SetRequest | st.DeleteRequest = st.DeleteRequest(
                    key=str(item.get("key") or ""),
                    etag=_etag_field(item),
                    metadata=_str_map(item.get("metadata"), "metadata"),
                    concurrency=_options(item),
                )
            else:
                req = _set_request(item, {})
            ops.append(Op(operation, req))
        try:
            self.api.transact(store, ops)
        except ApiError as err:
            if err.error_code == "ERR_NOT_SUPPORTED_STATE_OPERATION":
                err.http_status = 400
            raise
        return web.Response(status=204)

    async def query(self, request: web.Request) -> web.StreamResponse:
        text = (await request.read()).decode("utf-8", "replace")
        results, token = self.api.query(request.match_info["store"], text)
        if not results:
            return web.Response(status=204)
        body: dict[str, Any] = {
            "results": [{"key": r.key, "data": _json_data(r.value), "etag": r.etag} for r in results]
        }
        if token:
            body["token"] = token
        return web.json_response(body)
