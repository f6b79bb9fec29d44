"""The HTTP state API, called with httpx as an app without the SDK would.

Mirrors dapr/dapr `pkg/api/http/http.go` (onGetState, onPostState,
onDeleteState, onBulkGetState, onPostStateTransaction, onQueryStateHandler)
and the docs page reference/api/state_api.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from .conftest import Target

STORE = "statestore"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def http(target: Target) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.main.http_url, timeout=10) as c:
        yield c


def save(http: httpx.Client, items: list[dict], **params: str) -> httpx.Response:
    return http.post(f"/v1.0/state/{STORE}", json=items, params=params)


def test_save_then_get_returns_json_value_and_etag_header(http: httpx.Client) -> None:
    """onPostState -> 204; onGetState -> 200, the value's JSON, `ETag` header."""
    key = unique("h")
    value = {"a": 1, "nested": {"b": [1, 2, "x"]}, "s": "é"}
    assert save(http, [{"key": key, "value": value}]).status_code == 204
    resp = http.get(f"/v1.0/state/{STORE}/{key}")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == value
    assert resp.headers["ETag"].isdigit()


def test_json_values_come_back_as_postgres_writes_jsonb(http: httpx.Client) -> None:
    """onPostState decodes the value into Go values (numbers are float64), state.postgresql v1
    stores it as `jsonb`, and Postgres writes that out its own way: keys shortest first then
    bytewise, the last of duplicate keys, `", "`/`": "`, numbers without exponent or trailing
    zeros, only `"`, `\\` and control characters escaped. The body is sent as raw text."""
    key = unique("hjson")
    value = (
        '{"b":1, "a":[1, 2.50, 1e2, -0, 1E-2], "zz":"\\u00e9\\n\\t\\u0001/",'
        ' "aa": {"y": null, "x": true}, "dup": 1, "dup": 2}'
    )
    body = f'[{{"key": "{key}", "value": {value}}}]'
    assert http.post(f"/v1.0/state/{STORE}", content=body).status_code == 204
    expected = (
        '{"a": [1, 2.5, 100, 0, 0.01], "b": 1, "aa": {"x": true, "y": null},'
        ' "zz": "é\\n\\t\\u0001/", "dup": 2}'
    )
    assert http.get(f"/v1.0/state/{STORE}/{key}").content == expected.encode()


def test_a_key_with_braces_and_unicode_is_read_and_deleted_by_its_escaped_path(http: httpx.Client) -> None:
    """daprd's router takes any path segment as the key (a login may hold `{`, `}` or emoji)."""
    key = unique("h{x}-é😀")
    save(http, [{"key": key, "value": 1}])
    path = f"/v1.0/state/{STORE}/{quote(key, safe='')}"
    assert http.get(path).json() == 1
    assert http.delete(path).status_code == 204
    assert http.get(path).status_code == 204


def test_string_value_is_stored_as_json_string(http: httpx.Client) -> None:
    """The HTTP API takes `value` as JSON; the postgresql component stores its JSON encoding."""
    key = unique("hs")
    save(http, [{"key": key, "value": "plain"}])
    assert http.get(f"/v1.0/state/{STORE}/{key}").content == b'"plain"'


def test_get_missing_key_is_204(http: httpx.Client) -> None:
    """onGetState: no data -> 204 No Content with an empty body."""
    resp = http.get(f"/v1.0/state/{STORE}/{unique('nope')}")
    assert resp.status_code == 204
    assert resp.content == b""


def test_unknown_store_is_400_with_error_code(http: httpx.Client) -> None:
    """getStateStoreWithRequestValidation: 400 ERR_STATE_STORE_NOT_FOUND."""
    resp = http.get("/v1.0/state/nosuchstore/k")
    assert resp.status_code == 400
    body = resp.json()
    assert body["errorCode"] == "ERR_STATE_STORE_NOT_FOUND"
    assert body["message"] == "state store nosuchstore is not found"


def test_out_of_scope_store_is_400(http: httpx.Client) -> None:
    """Scopes: `peerstore` is not loaded for `contract`, so it is not found."""
    resp = http.post("/v1.0/state/peerstore", json=[{"key": "k", "value": 1}])
    assert resp.status_code == 400
    assert resp.json()["errorCode"] == "ERR_STATE_STORE_NOT_FOUND"


def test_etag_in_body_mismatch_is_409(http: httpx.Client) -> None:
    """onPostState -> stateErrorResponse: ETag mismatch -> 409 ERR_STATE_SAVE."""
    key = unique("he")
    save(http, [{"key": key, "value": 1}])
    etag = http.get(f"/v1.0/state/{STORE}/{key}").headers["ETag"]
    assert save(http, [{"key": key, "value": 2, "etag": etag}]).status_code == 204
    resp = save(http, [{"key": key, "value": 3, "etag": etag}])
    assert resp.status_code == 409
    assert resp.json()["errorCode"] == "ERR_STATE_SAVE"
    assert http.get(f"/v1.0/state/{STORE}/{key}").json() == 2


def test_malformed_etag_is_400(http: httpx.Client) -> None:
    """stateErrorResponse: ETagInvalid -> 400."""
    key = unique("hm")
    save(http, [{"key": key, "value": 1}])
    resp = save(http, [{"key": key, "value": 2, "etag": "not-a-number"}])
    assert resp.status_code == 400
    assert "invalid etag value" in resp.json()["message"]


def test_first_write_option_in_body(http: httpx.Client) -> None:
    """`options.concurrency: first-write` without ETag on an existing key -> 500 (not an ETag error)."""
    key = unique("hf")
    opts = {"concurrency": "first-write"}
    assert save(http, [{"key": key, "value": 1, "options": opts}]).status_code == 204
    resp = save(http, [{"key": key, "value": 2, "options": opts}])
    assert resp.status_code == 500
    assert "no item was updated" in resp.json()["message"]


def test_missing_key_field_is_400(http: httpx.Client) -> None:
    """onPostState: `"key" is a required field` (400 ERR_MALFORMED_REQUEST)."""
    resp = save(http, [{"value": 1}])
    assert resp.status_code == 400
    assert resp.json()["errorCode"] == "ERR_MALFORMED_REQUEST"


def test_delete_with_if_match(http: httpx.Client) -> None:
    """onDeleteState: the ETag comes in `If-Match`; mismatch -> 409 ERR_STATE_DELETE, else 204."""
    key = unique("hd")
    save(http, [{"key": key, "value": 1}])
    etag = http.get(f"/v1.0/state/{STORE}/{key}").headers["ETag"]
    resp = http.delete(f"/v1.0/state/{STORE}/{key}", headers={"If-Match": str(int(etag) + 999)})
    assert resp.status_code == 409
    assert resp.json()["errorCode"] == "ERR_STATE_DELETE"
    assert http.delete(f"/v1.0/state/{STORE}/{key}", headers={"If-Match": "x"}).status_code == 400
    assert http.delete(f"/v1.0/state/{STORE}/{key}", headers={"If-Match": etag}).status_code == 204
    assert http.get(f"/v1.0/state/{STORE}/{key}").status_code == 204


def test_bulk_get_includes_missing_keys(http: httpx.Client) -> None:
    """onBulkGetState: one entry per key; missing keys have only `key`."""
    present, missing = unique("hbp"), unique("hbm")
    save(http, [{"key": present, "value": {"x": 1}}])
    resp = http.post(f"/v1.0/state/{STORE}/bulk", json={"keys": [present, missing], "parallelism": 2})
    assert resp.status_code == 200
    items = {i["key"]: i for i in resp.json()}
    assert items[present]["data"] == {"x": 1} and items[present]["etag"].isdigit()
    assert items[missing] == {"key": missing}


def test_transaction_commits_and_rolls_back(http: httpx.Client) -> None:
    """onPostStateTransaction: 204 on success; a failing ETag -> 500 ERR_STATE_TRANSACTION and
    nothing applied; an unknown operation -> 400 ERR_NOT_SUPPORTED_STATE_OPERATION."""
    a, b = unique("hta"), unique("htb")
    ok = {
        "operations": [
            {"operation": "upsert", "request": {"key": a, "value": "A"}},
            {"operation": "upsert", "request": {"key": b, "value": "B"}},
        ]
    }
    assert http.post(f"/v1.0/state/{STORE}/transaction", json=ok).status_code == 204
    bad = {
        "operations": [
            {"operation": "delete", "request": {"key": a}},
            {"operation": "upsert", "request": {"key": b, "value": "B2", "etag": "4000000000"}},
        ]
    }
    resp = http.post(f"/v1.0/state/{STORE}/transaction", json=bad)
    assert resp.status_code == 500
    assert resp.json()["errorCode"] == "ERR_STATE_TRANSACTION"
    assert http.get(f"/v1.0/state/{STORE}/{a}").json() == "A"
    assert http.get(f"/v1.0/state/{STORE}/{b}").json() == "B"
    odd = {"operations": [{"operation": "merge", "request": {"key": a}}]}
    resp = http.post(f"/v1.0/state/{STORE}/transaction", json=odd)
    assert resp.status_code == 400
    assert resp.json()["errorCode"] == "ERR_NOT_SUPPORTED_STATE_OPERATION"


def test_ttl_via_query_metadata(http: httpx.Client) -> None:
    """`metadata.ttlInSeconds` query parameter; GET reports `metadata.ttlExpireTime`; after
    expiry the key reads as missing (204)."""
    key = unique("httl")
    assert save(http, [{"key": key, "value": 1}], **{"metadata.ttlInSeconds": "1"}).status_code == 204
    resp = http.get(f"/v1.0/state/{STORE}/{key}")
    assert resp.status_code == 200
    assert resp.headers["metadata.ttlExpireTime"].endswith("Z")
    time.sleep(1.6)
    assert http.get(f"/v1.0/state/{STORE}/{key}").status_code == 204


def test_query_over_http(http: httpx.Client) -> None:
    """POST /v1.0-alpha1/state/{store}/query (onQueryStateHandler): results with key, data, etag."""
    batch = unique("hq")
    save(http, [{"key": f"{batch}-{i}", "value": {"batch": batch, "n": i}} for i in range(3)])
    query = {"filter": {"EQ": {"batch": batch}}, "sort": [{"key": "n"}]}
    resp = http.post(f"/v1.0-alpha1/state/{STORE}/query", json=query)
    assert resp.status_code == 200
    results = resp.json()["results"]
    assert [r["key"] for r in results] == [f"{batch}-0", f"{batch}-1", f"{batch}-2"]
    assert results[1]["data"] == {"batch": batch, "n": 1}
