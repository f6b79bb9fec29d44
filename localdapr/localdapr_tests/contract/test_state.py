"""State management through the real Dapr SDK (gRPC).

Each test names the Dapr behaviour it mirrors: dapr/dapr `pkg/api/grpc/grpc.go`
(handlers and status codes), `pkg/api/errors/state.go`, `pkg/messages`, and
components-contrib `common/component/postgresql/v1/postgresql.go` with
`state/postgresql/v1/postgresql.go` (the store production uses).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType
from dapr.clients.grpc._state import Concurrency, StateOptions
from dapr.proto import api_v1, common_v1

from .conftest import Target

STORE = "statestore"
PEER_STORE = "peerstore"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(target: Target) -> Iterator[DaprClient]:
    with DaprClient(address=target.main.grpc_address) as c:
        yield c


@pytest.fixture
def peer(target: Target) -> Iterator[DaprClient]:
    with DaprClient(address=target.peer.grpc_address) as c:
        yield c


def grpc_error(call, *args, **kwargs) -> DaprGrpcError:
    with pytest.raises(DaprGrpcError) as info:
        call(*args, **kwargs)
    return info.value


# -- basics --------------------------------------------------------------------
def test_save_and_get_returns_bytes_exactly(client: DaprClient) -> None:
    """grpc.go SaveState/GetState; postgresql v1 stores non-JSON values as base64 and
    returns them decoded: any bytes come back unchanged."""
    key = unique("bytes")
    value = bytes(range(256)) + b"\x00tail"
    client.save_state(STORE, key, value)
    got = client.get_state(STORE, key)
    assert got.data == value
    assert got.etag.isdigit()


def test_get_missing_key_is_empty_not_an_error(client: DaprClient) -> None:
    """postgresql.go Get: no row -> empty GetResponse; grpc.go returns empty data and ETag."""
    got = client.get_state(STORE, unique("missing"))
    assert got.data == b""
    assert got.etag == ""


def test_etag_is_numeric_and_changes_on_every_write(client: DaprClient) -> None:
    """postgresql v1 uses `xmin` as the ETag: a number that grows with every write."""
    key = unique("etag")
    etags = []
    for i in range(3):
        client.save_state(STORE, key, f"v{i}")
        etags.append(int(client.get_state(STORE, key).etag))
    assert etags == sorted(etags) and len(set(etags)) == 3


def test_json_value_with_content_type_round_trips(client: DaprClient) -> None:
    """grpc.go SaveState: metadata contentType=application/json makes daprd parse the value as
    JSON (so the query API can see it); reading it back gives the same JSON."""
    key = unique("json")
    doc = {"name": "Ada", "tags": ["x", "y"], "n": 3}
    client.save_state(STORE, key, json.dumps(doc), state_metadata={"contentType": "application/json"})
    assert json.loads(client.get_state(STORE, key).data) == doc


def test_json_value_is_stored_as_go_and_postgres_see_it(client: DaprClient) -> None:
    """The same over gRPC: the JSON value is decoded as Go does (float64, so a 23-digit integer
    loses its last digit and 1.0 is 1) and comes back as Postgres' jsonb text."""
    key = unique("gjson")
    meta = {"contentType": "application/json"}
    client.save_state(STORE, key, '{"b": 1,  "a" : [1.0, 10000000000000000000001]}', state_metadata=meta)
    assert client.get_state(STORE, key).data == b'{"a": [1, 10000000000000000000000], "b": 1}'


def test_invalid_json_with_json_content_type_is_rejected(client: DaprClient) -> None:
    """grpc.go SaveState: json.Unmarshal fails -> the raw Go error (gRPC UNKNOWN)."""
    err = grpc_error(
        client.save_state,
        STORE,
        unique("badjson"),
        "{not json",
        state_metadata={"contentType": "application/json"},
    )
    assert err.code() == grpc.StatusCode.UNKNOWN


def test_empty_key_is_invalid_argument(client: DaprClient) -> None:
    """grpc.go SaveState: `state key cannot be empty` (INVALID_ARGUMENT)."""
    err = grpc_error(client.save_state, STORE, "", "v")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "state key cannot be empty" in err.details()


def test_key_with_separator_is_rejected(client: DaprClient) -> None:
    """pkg/components/state/state_config.go checkKeyIllegal: a key may not contain `||`."""
    err = grpc_error(client.save_state, STORE, "a||b", "v")
    assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNKNOWN)
    assert "can't contain '||'" in err.details()


# -- stores and scopes -----------------------------------------------------------
def test_unknown_store_is_invalid_argument(client: DaprClient) -> None:
    """pkg/api/errors/state.go NotFound: INVALID_ARGUMENT, `state store X is not found`,
    ErrorInfo reason DAPR_STATE_NOT_FOUND."""
    err = grpc_error(client.get_state, "nosuchstore", "k")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "state store nosuchstore is not found"
    assert err.error_code() == "DAPR_STATE_NOT_FOUND"


def test_scoped_store_is_invisible_to_other_apps(client: DaprClient, peer: DaprClient) -> None:
    """Component scopes (docs: component-scopes): `peerstore` is scoped to contract-peer,
    so for `contract` it does not exist at all (same error as an unknown store)."""
    err = grpc_error(client.save_state, PEER_STORE, unique("scoped"), "v")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == f"state store {PEER_STORE} is not found"
    err = grpc_error(peer.get_state, STORE, "k")
    assert err.details() == f"state store {STORE} is not found"


def test_keys_are_namespaced_by_app_id(client: DaprClient, peer: DaprClient) -> None:
    """Keys are stored as `{app-id}||{key}` (state_config.go, keyPrefix=appid): two apps
    using the same key in stores on the same Postgres table keep separate values, while
    the (unprefixed) query API of postgresql v1 sees both rows."""
    key = unique("shared")
    marker = unique("marker")
    meta = {"contentType": "application/json"}
    client.save_state(STORE, key, json.dumps({"owner": "contract", "m": marker}), state_metadata=meta)
    peer.save_state(PEER_STORE, key, json.dumps({"owner": "peer", "m": marker}), state_metadata=meta)
    assert json.loads(client.get_state(STORE, key).data)["owner"] == "contract"
    assert json.loads(peer.get_state(PEER_STORE, key).data)["owner"] == "peer"
    with pytest.warns(UserWarning):
        resp = client.query_state(STORE, json.dumps({"filter": {"EQ": {"m": marker}}}))
    assert sorted(json.loads(r.value)["owner"] for r in resp.results) == ["contract", "peer"]
    assert {r.key for r in resp.results} == {key}


# -- ETags and concurrency ----------------------------------------------------------
def test_save_with_current_etag_succeeds(client: DaprClient) -> None:
    """postgresql v1 Set with ETag: `UPDATE ... WHERE key = $1 AND xmin = $4`."""
    key = unique("cas")
    client.save_state(STORE, key, "one")
    etag = client.get_state(STORE, key).etag
    client.save_state(STORE, key, "two", etag=etag)
    got = client.get_state(STORE, key)
    assert got.data == b"two" and got.etag != etag


def test_etag_mismatch_is_aborted(client: DaprClient) -> None:
    """grpc.go stateErrorResponse: ETagMismatch -> ABORTED, message
    `failed saving state in state store X: possible etag mismatch...`."""
    key = unique("stale")
    client.save_state(STORE, key, "one")
    stale = client.get_state(STORE, key).etag
    client.save_state(STORE, key, "two")
    err = grpc_error(client.save_state, STORE, key, "three", etag=stale)
    assert err.code() == grpc.StatusCode.ABORTED
    assert err.details().startswith(f"failed saving state in state store {STORE}: possible etag mismatch")
    assert client.get_state(STORE, key).data == b"two"


def test_etag_on_missing_key_is_a_mismatch(client: DaprClient) -> None:
    """postgresql v1: an UPDATE guarded by the ETag finds no row -> ETagMismatch (ABORTED)."""
    key = unique("noetagrow")
    err = grpc_error(client.save_state, STORE, key, "v", etag="12345")
    assert err.code() == grpc.StatusCode.ABORTED
    assert client.get_state(STORE, key).data == b""


@pytest.mark.parametrize("etag", ["abc", "-1", "1.5", "99999999999"])
def test_malformed_etag_is_invalid_argument(client: DaprClient, etag: str) -> None:
    """postgresql v1 parses the ETag with strconv.ParseUint(etag, 10, 32): anything else is
    ETagInvalid -> INVALID_ARGUMENT (grpc.go stateErrorResponse)."""
    key = unique("badetag")
    client.save_state(STORE, key, "v")
    err = grpc_error(client.save_state, STORE, key, "w", etag=etag)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid etag value" in err.details()
    err = grpc_error(client.delete_state, STORE, key, etag=etag)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_first_write_without_etag_fails_on_existing_key(client: DaprClient) -> None:
    """state/postgresql/v1: first-write without ETag only inserts (or replaces an expired
    row); on a live row nothing is updated -> `no item was updated` (INTERNAL)."""
    key = unique("first")
    first = StateOptions(concurrency=Concurrency.first_write)
    client.save_state(STORE, key, "one", options=first)  # a new key: fine
    err = grpc_error(client.save_state, STORE, key, "two", options=first)
    assert err.code() == grpc.StatusCode.INTERNAL
    assert "no item was updated" in err.details()
    assert client.get_state(STORE, key).data == b"one"


def test_first_write_with_etag_checks_the_etag(client: DaprClient) -> None:
    """postgresql v1: with an ETag the concurrency mode does not matter, the ETag decides."""
    key = unique("firstetag")
    first = StateOptions(concurrency=Concurrency.first_write)
    client.save_state(STORE, key, "one")
    etag = client.get_state(STORE, key).etag
    client.save_state(STORE, key, "two", etag=etag, options=first)
    err = grpc_error(client.save_state, STORE, key, "three", etag=etag, options=first)
    assert err.code() == grpc.StatusCode.ABORTED


def test_last_write_without_etag_is_an_upsert(client: DaprClient) -> None:
    """state/postgresql/v1: no ETag + last-write -> INSERT ... ON CONFLICT DO UPDATE."""
    key = unique("last")
    last = StateOptions(concurrency=Concurrency.last_write)
    client.save_state(STORE, key, "one", options=last)
    client.save_state(STORE, key, "two", options=last)
    assert client.get_state(STORE, key).data == b"two"


def test_etag_race_between_two_clients_has_exactly_one_winner(target: Target) -> None:
    """Optimistic concurrency (docs: state-management-overview#concurrency): two clients
    holding the same ETag write at once; exactly one succeeds, the other gets ABORTED."""
    key = unique("race")
    with DaprClient(address=target.main.grpc_address) as setup:
        setup.save_state(STORE, key, "start")
        etag = setup.get_state(STORE, key).etag
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def contender(n: int) -> None:
        with DaprClient(address=target.main.grpc_address) as c:
            barrier.wait()
            try:
                c.save_state(STORE, key, f"writer-{n}", etag=etag)
                result = f"won-{n}"
            except DaprGrpcError as err:
                result = err.code().name
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [o for o in outcomes if o.startswith("won-")]
    assert len(winners) == 1, outcomes
    assert sorted(o for o in outcomes if not o.startswith("won-")) == ["ABORTED"] * 7
    with DaprClient(address=target.main.grpc_address) as check:
        assert check.get_state(STORE, key).data == f"writer-{winners[0][4:]}".encode()


# -- delete ------------------------------------------------------------------------
def test_delete_removes_and_missing_delete_is_ok(client: DaprClient) -> None:
    """postgresql v1 Delete without ETag: `DELETE ... WHERE key = $1`, no error when absent."""
    key = unique("del")
    client.save_state(STORE, key, "v")
    client.delete_state(STORE, key)
    assert client.get_state(STORE, key).data == b""
    client.delete_state(STORE, key)


def test_delete_with_etag(client: DaprClient) -> None:
    """postgresql v1 Delete with ETag: mismatch (or no row) -> ABORTED
    `failed deleting state with key K: possible etag mismatch...`."""
    key = unique("deletag")
    client.save_state(STORE, key, "v")
    etag = client.get_state(STORE, key).etag
    err = grpc_error(client.delete_state, STORE, key, etag=str(int(etag) + 1000))
    assert err.code() == grpc.StatusCode.ABORTED
    assert err.details().startswith(f"failed deleting state with key {key}: possible etag mismatch")
    client.delete_state(STORE, key, etag=etag)
    err = grpc_error(client.delete_state, STORE, key, etag=etag)  # now the row is gone
    assert err.code() == grpc.StatusCode.ABORTED


def test_recreated_key_does_not_reuse_an_old_etag(client: DaprClient) -> None:
    """postgresql v1's `xmin` is a transaction id: a key deleted and saved again never gets an
    ETag an old reader could still hold."""
    key = unique("reborn")
    client.save_state(STORE, key, "v1")
    old = client.get_state(STORE, key).etag
    client.delete_state(STORE, key)
    client.save_state(STORE, key, "v2")
    err = grpc_error(client.save_state, STORE, key, "v3", etag=old)
    assert err.code() == grpc.StatusCode.ABORTED


# -- bulk --------------------------------------------------------------------------
def test_bulk_get_returns_missing_keys_empty(client: DaprClient) -> None:
    """grpc.go GetBulkState / postgresql v1 BulkGet: missing keys come back with empty data and
    ETag, no error."""
    present, missing = unique("bp"), unique("bm")
    client.save_state(STORE, present, "here")
    items = {i.key: i for i in client.get_bulk_state(STORE, [present, missing]).items}
    assert set(items) == {present, missing}
    assert items[present].data == b"here" and items[present].etag.isdigit()
    assert items[missing].data == b"" and items[missing].etag == "" and items[missing].error == ""


def test_save_bulk_state(client: DaprClient) -> None:
    """grpc.go SaveState with several items (PerformBulkStoreOperation)."""
    from dapr.clients.grpc._state import StateItem

    keys = [unique("sb") for _ in range(3)]
    client.save_bulk_state(STORE, [StateItem(key=k, value=f"v-{k}") for k in keys])
    items = {i.key: i.data for i in client.get_bulk_state(STORE, keys).items}
    assert items == {k: f"v-{k}".encode() for k in keys}


def test_save_bulk_with_only_etag_failures_is_aborted(client: DaprClient) -> None:
    """pkg/components/state/bulk.go: when every failed item failed on its ETag, the bulk error
    is an ETag mismatch (ABORTED); the other items are saved (no transaction)."""
    from dapr.clients.grpc._state import StateItem

    good, bad = unique("sbg"), unique("sbb")
    err = grpc_error(
        client.save_bulk_state,
        STORE,
        [StateItem(key=good, value="ok"), StateItem(key=bad, value="x", etag="777")],
    )
    assert err.code() == grpc.StatusCode.ABORTED
    assert client.get_state(STORE, good).data == b"ok"
    assert client.get_state(STORE, bad).data == b""


def test_delete_bulk_state(client: DaprClient) -> None:
    """grpc.go DeleteBulkState (the SDK has no wrapper: called on the generated stub)."""
    keys = [unique("db") for _ in range(3)]
    for k in keys:
        client.save_state(STORE, k, "v")
    client._stub.DeleteBulkState(
        api_v1.DeleteBulkStateRequest(store_name=STORE, states=[common_v1.StateItem(key=k) for k in keys[:2]])
    )
    items = {i.key: i.data for i in client.get_bulk_state(STORE, keys).items}
    assert items == {keys[0]: b"", keys[1]: b"", keys[2]: b"v"}


# -- transactions ------------------------------------------------------------------
def test_transaction_applies_all_operations(client: DaprClient) -> None:
    """grpc.go ExecuteStateTransaction -> postgresql v1 Multi (one database transaction)."""
    a, b, gone = unique("ta"), unique("tb"), unique("tg")
    client.save_state(STORE, gone, "old")
    client.execute_state_transaction(
        STORE,
        [
            TransactionalStateOperation(key=a, data="A"),
            TransactionalStateOperation(key=b, data="B"),
            TransactionalStateOperation(key=gone, data="", operation_type=TransactionOperationType.delete),
        ],
    )
    items = {i.key: i.data for i in client.get_bulk_state(STORE, [a, b, gone]).items}
    assert items == {a: b"A", b: b"B", gone: b""}


def test_transaction_rolls_back_when_one_etag_fails(client: DaprClient) -> None:
    """postgresql v1 Multi runs in one transaction: one failing ETag undoes every operation;
    grpc.go reports any failure as INTERNAL `error while executing state transaction: <cause>`."""
    kept, new, guarded = unique("rk"), unique("rn"), unique("rg")
    client.save_state(STORE, kept, "before")
    client.save_state(STORE, guarded, "g")
    err = grpc_error(
        client.execute_state_transaction,
        STORE,
        [
            TransactionalStateOperation(key=kept, data="after"),
            TransactionalStateOperation(key=new, data="new"),
            TransactionalStateOperation(key=guarded, data="x", etag="4000000000"),
        ],
    )
    assert err.code() == grpc.StatusCode.INTERNAL
    assert err.details().startswith("error while executing state transaction: possible etag mismatch")
    items = {i.key: i.data for i in client.get_bulk_state(STORE, [kept, new, guarded]).items}
    assert items == {kept: b"before", new: b"", guarded: b"g"}


def test_transaction_with_malformed_etag_is_internal(client: DaprClient) -> None:
    """grpc.go ExecuteStateTransaction does not map ETag errors: a malformed ETag is INTERNAL
    too, with the component's `invalid etag value` as the cause."""
    key = unique("tm")
    client.save_state(STORE, key, "v")
    err = grpc_error(
        client.execute_state_transaction, STORE, [TransactionalStateOperation(key=key, data="x", etag="nope")]
    )
    assert err.code() == grpc.StatusCode.INTERNAL
    assert "invalid etag value" in err.details()


def test_transaction_unknown_operation_is_unimplemented(client: DaprClient) -> None:
    """grpc.go ExecuteStateTransaction: `operation type X not supported` (UNIMPLEMENTED)."""
    req = api_v1.ExecuteStateTransactionRequest(
        storeName=STORE,
        operations=[
            api_v1.TransactionalStateOperation(
                operationType="merge", request=common_v1.StateItem(key=unique("tu"))
            )
        ],
    )
    with pytest.raises(grpc.RpcError) as info:
        client._stub.ExecuteStateTransaction(req)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert info.value.details() == "operation type merge not supported"


# -- TTL ---------------------------------------------------------------------------
def test_ttl_expiry_makes_the_value_invisible(client: DaprClient) -> None:
    """postgresql v1: `ttlInSeconds` sets `expiredate`; reads skip expired rows; GetState
    reports `ttlExpireTime` (RFC 3339) in the response metadata."""
    key, keep = unique("ttl"), unique("ttlkeep")
    client.save_state(STORE, key, "short", state_metadata={"ttlInSeconds": "1"})
    client.save_state(STORE, keep, "long", state_metadata={"ttlInSeconds": "3600"})
    resp = client._stub.GetState(api_v1.GetStateRequest(store_name=STORE, key=key))
    assert resp.data == b"short"
    assert resp.metadata["ttlExpireTime"].endswith("Z")
    time.sleep(1.6)
    assert client.get_state(STORE, key).data == b""
    items = {i.key: i.data for i in client.get_bulk_state(STORE, [key, keep]).items}
    assert items == {key: b"", keep: b"long"}


def test_expired_key_can_be_first_written_again(client: DaprClient) -> None:
    """state/postgresql/v1: first-write may replace a row only when it has expired."""
    key = unique("ttlfirst")
    first = StateOptions(concurrency=Concurrency.first_write)
    client.save_state(STORE, key, "short", state_metadata={"ttlInSeconds": "1"}, options=first)
    time.sleep(1.2)
    client.save_state(STORE, key, "again", options=first)
    assert client.get_state(STORE, key).data == b"again"


def test_invalid_ttl_is_rejected(client: DaprClient) -> None:
    """components-contrib state/utils ParseTTL: a non-integer ttlInSeconds fails the save."""
    err = grpc_error(client.save_state, STORE, unique("badttl"), "v", state_metadata={"ttlInSeconds": "soon"})
    assert err.code() == grpc.StatusCode.INTERNAL
    assert "ttlInSeconds" in err.details()


# -- query -------------------------------------------------------------------------
def test_query_sees_only_json_values_with_filters_sort_and_paging(client: DaprClient) -> None:
    """postgresql v1 Query (postgresql_query.go): filters compare `value->>'field'` with the
    parameter, only JSON values are queryable, LIMIT/OFFSET paging with a numeric token."""
    batch = unique("q")
    meta = {"contentType": "application/json"}
    for i, city in enumerate(["Paris", "Oslo", "Paris", "Rome"]):
        doc = {"batch": batch, "i": i, "person": {"city": city}}
        client.save_state(STORE, f"{batch}-{i}", json.dumps(doc), state_metadata=meta)
    client.save_state(STORE, f"{batch}-bin", json.dumps({"batch": batch}))  # not JSON-typed: invisible
    query: dict[str, Any] = {
        "filter": {"AND": [{"EQ": {"batch": batch}}, {"IN": {"person.city": ["Paris", "Rome"]}}]},
        "sort": [{"key": "i", "order": "DESC"}],
        "page": {"limit": 2},
    }
    with pytest.warns(UserWarning):
        first = client.query_state(STORE, json.dumps(query))
    assert [r.key for r in first.results] == [f"{batch}-3", f"{batch}-2"]
    assert first.token == "2"
    query["page"]["token"] = first.token
    with pytest.warns(UserWarning):
        second = client.query_state(STORE, json.dumps(query))
    assert [r.key for r in second.results] == [f"{batch}-0"]
    assert json.loads(second.results[0].value)["person"]["city"] == "Paris"
    assert second.results[0].etag.isdigit()


def test_query_with_bad_json_fails(client: DaprClient) -> None:
    """universal/state_query.go: an unparsable query is `state store X query failed: ...` (INTERNAL)."""
    with pytest.warns(UserWarning):
        err = grpc_error(client.query_state, STORE, "{nope")
    assert err.code() == grpc.StatusCode.INTERNAL
    assert err.details().startswith(f"state store {STORE} query failed: failed to parse JSON query body")


# -- durability --------------------------------------------------------------------
def test_state_survives_kill_9_and_restart(restartable: Target) -> None:
    """Postgres is durable; localdapr's SQLite (WAL) must be too: after `kill -9` and a
    restart, saved values and their ETags are still there and ETags keep growing."""
    key = unique("durable")
    with DaprClient(address=restartable.main.grpc_address) as c:
        c.save_state(STORE, key, "kept")
        before = c.get_state(STORE, key).etag
        c.delete_state(STORE, unique("bump"))
    restartable.restart(hard=True)
    with DaprClient(address=restartable.main.grpc_address) as c:
        got = c.get_state(STORE, key)
        assert (got.data, got.etag) == (b"kept", before)
        c.save_state(STORE, key, "newer", etag=before)
        assert int(c.get_state(STORE, key).etag) > int(before)
