import json
from types import SimpleNamespace

import grpc
import pytest
from dapr.clients.exceptions import DaprGrpcError, DaprInternalError
from dapr_helpers.pubsub import DaprReply, event_data, publish_json
from dapr_helpers.state import ConcurrencyConflict, Delete, StateStore, Upsert, retry_on_conflict
from grpc.aio import AioRpcError, Metadata


def _grpc_error(code: grpc.StatusCode, details: str) -> DaprGrpcError:
    return DaprGrpcError(AioRpcError(code, Metadata(), Metadata(), details))


class FakeDaprClient:
    """Just the DaprClient coroutines StateStore calls, recording the requests."""

    def __init__(self, error: DaprGrpcError | None = None) -> None:
        self.error = error
        self.calls: list[tuple] = []

    async def get_state(self, store, key):
        return SimpleNamespace(data=b'{"a": 1}' if key == "k" else b"", etag="7" if key == "k" else "")

    async def get_bulk_state(self, store, keys):
        return SimpleNamespace(items=[SimpleNamespace(key="k", data=b"[1]", etag="3")])

    async def execute_state_transaction(self, store, ops):
        self.calls.append((store, ops))
        if self.error:
            raise self.error

    async def save_state(self, store, key, value, options=None, state_metadata=None):
        self.calls.append((key, options.concurrency.name))
        if self.error:
            # As the SDK does: save_state wraps the gRPC error.
            raise DaprInternalError(self.error.details()) from self.error

    async def publish_event(self, **kwargs):
        self.calls.append(kwargs)


async def test_get_json_returns_value_and_etag_or_none_for_missing_key():
    store = StateStore(FakeDaprClient(), "s")
    assert await store.get_json("k") == ({"a": 1}, "7")
    assert await store.get_json("missing") == (None, None)
    assert await store.bulk_get_json(["k", "x"]) == {"k": ([1], "3"), "x": (None, None)}


async def test_transaction_sends_json_upserts_and_deletes_with_etags():
    client = FakeDaprClient()
    await StateStore(client, "s").transact([Upsert("a", {"x": 1}, etag="5"), Delete("b")])
    store, ops = client.calls[0]
    assert store == "s"
    assert json.loads(ops[0].data) == {"x": 1}
    assert ops[0].etag == "5"
    assert ops[0].metadata == {"contentType": "application/json"}
    assert ops[1].operation_type.value == "delete"


@pytest.mark.parametrize(
    ("code", "details"),
    [
        (grpc.StatusCode.ABORTED, "etag mismatch"),
        (grpc.StatusCode.INTERNAL, "error while executing state transaction: possible etag mismatch"),
    ],
)
async def test_etag_mismatch_becomes_concurrency_conflict(code, details):
    store = StateStore(FakeDaprClient(_grpc_error(code, details)), "s")
    with pytest.raises(ConcurrencyConflict):
        await store.transact([Upsert("a", 1, etag="1")])


async def test_other_transaction_failures_are_not_conflicts():
    store = StateStore(FakeDaprClient(_grpc_error(grpc.StatusCode.INTERNAL, "connection refused")), "s")
    with pytest.raises(DaprGrpcError):
        await store.transact([Upsert("a", 1)])


async def test_create_json_is_first_write_and_reports_existing_key_as_false():
    err = _grpc_error(grpc.StatusCode.INTERNAL, "failed saving state in state store s: no item was updated")
    assert await StateStore(FakeDaprClient(err), "s").create_json("a", 1) is False
    client = FakeDaprClient()
    assert await StateStore(client, "s").create_json("a", 1) is True
    assert client.calls == [("a", "first_write")]


async def test_create_json_raises_other_save_failures():
    err = _grpc_error(grpc.StatusCode.UNAVAILABLE, "connection refused")
    with pytest.raises(DaprInternalError):
        await StateStore(FakeDaprClient(err), "s").create_json("a", 1)


async def test_retry_on_conflict_retries_until_success_then_gives_up():
    tries = []

    async def flaky():
        tries.append(1)
        if len(tries) < 3:
            raise ConcurrencyConflict()
        return "done"

    assert await retry_on_conflict(flaky, attempts=5, base_delay=0) == "done"

    async def always():
        raise ConcurrencyConflict()

    with pytest.raises(ConcurrencyConflict):
        await retry_on_conflict(always, attempts=2, base_delay=0)


async def test_publish_json_sends_json_content_type():
    client = FakeDaprClient()
    await publish_json(client, "pubsub", "t", DaprReply.drop())
    assert client.calls[0]["data_content_type"] == "application/json"
    assert json.loads(client.calls[0]["data"]) == {"status": "DROP"}


def test_event_data_parses_json_text_and_passes_objects():
    assert event_data({"data": {"a": 1}}) == {"a": 1}
    assert event_data({"data": '{"a": 1}'}) == {"a": 1}
    assert event_data("nope") is None


async def test_get_or_create_returns_the_existing_value_or_stores_the_empty_one():
    from dapr_helpers.testing import InMemoryStateStore

    store = InMemoryStateStore()
    value, etag = await store.get_or_create_json("k", {"n": 0})
    assert (value, etag is not None) == ({"n": 0}, True)
    await store.transact([Upsert("k", {"n": 1}, etag)])
    assert (await store.get_or_create_json("k", {"n": 0}))[0] == {"n": 1}


async def test_read_many_reads_in_one_call_and_creates_only_the_missing_records_it_is_given():
    from dapr_helpers.testing import InMemoryStateStore

    store = InMemoryStateStore()
    await store.create_json("slot", {"taken": 1})
    await store.transact([Upsert("slot", {"taken": 2}, (await store.get_json("slot"))[1])])

    found = await store.read_many(["booking", "slot", "other"], create={"booking": {"new": True}, "slot": {}})

    assert found["slot"] == ({"taken": 2}, (await store.get_json("slot"))[1])  # existing: not reset
    assert found["booking"][0] == {"new": True} and found["booking"][1] is not None
    assert found["other"] == (None, None)  # not in `create`: just read
    assert "other" not in store.data


async def test_read_many_stores_probably_new_records_first_and_never_overwrites_existing_ones():
    from dapr_helpers.testing import InMemoryStateStore

    store = InMemoryStateStore()
    await store.create_json("old-order", {"reserved": 2})

    found = await store.read_many(
        ["new-order", "old-order", "product"], new={"new-order": {"n": 0}, "old-order": {"n": 0}}
    )

    assert found["new-order"][0] == {"n": 0} and found["new-order"][1] is not None
    assert found["old-order"][0] == {"reserved": 2}  # it existed: the first-write did nothing
    assert found["product"] == (None, None)
