from typing import Any

import pytest
from dapr_helpers.client import DaprHttpError
from dapr_helpers.pubsub import DaprPublisher, DaprReply, event_data
from dapr_helpers.state import (
    ConcurrencyConflict,
    Delete,
    Insert,
    StateStore,
    Upsert,
    checked_write,
    retry_on_conflict,
)


class FakeDaprHttp:
    """Plays the sidecar's HTTP API: records each request, answers from `answers` or an error."""

    def __init__(self, answers: dict[str, tuple[int, bytes, str | None]] | None = None) -> None:
        self.answers = answers or {}
        self.error: DaprHttpError | None = None
        self.calls: list[tuple[str, str, Any]] = []

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, bytes, str | None]:
        self.calls.append((method, path, body))
        if self.error:
            raise self.error
        return self.answers.get(path, (204, b"", None))


async def test_get_json_returns_value_and_etag_or_none_for_missing_key():
    dapr = FakeDaprHttp({"/state/s/k": (200, b'{"a": 1}', "7")})
    store = StateStore(dapr, "s")
    assert await store.get_json("k") == ({"a": 1}, "7")
    assert await store.get_json("missing") == (None, None)  # 204, as Dapr answers a missing key


async def test_bulk_get_reads_data_and_etags_and_fills_in_missing_keys():
    dapr = FakeDaprHttp(
        {"/state/s/bulk": (200, b'[{"key": "k", "data": [1], "etag": "3"}, {"key": "x"}]', None)}
    )
    assert await StateStore(dapr, "s").bulk_get_json(["k", "x"]) == {"k": ([1], "3"), "x": (None, None)}
    assert dapr.calls == [("POST", "/state/s/bulk", {"keys": ["k", "x"]})]


async def test_keys_and_store_names_are_escaped_in_the_path():
    dapr = FakeDaprHttp()
    await StateStore(dapr, "my store").get_json("a/b?c")
    assert dapr.calls[0][1] == "/state/my%20store/a%2Fb%3Fc"


async def test_transaction_sends_json_upserts_and_deletes_with_etags():
    dapr = FakeDaprHttp()
    await StateStore(dapr, "s").transact([Upsert("a", {"x": 1}, etag="5"), Delete("b")])
    method, path, body = dapr.calls[0]
    assert (method, path) == ("POST", "/state/s/transaction")
    assert body == {
        "operations": [
            {"operation": "upsert", "request": {"key": "a", "value": {"x": 1}, "etag": "5"}},
            {"operation": "delete", "request": {"key": "b"}},
        ],
        "metadata": {"contentType": "application/json"},
    }


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (409, "possible etag mismatch. error from state store"),
        (500, "error while executing state transaction: possible etag mismatch"),
    ],
)
async def test_etag_mismatch_becomes_concurrency_conflict(status, message):
    dapr = FakeDaprHttp()
    dapr.error = DaprHttpError(status, "ERR_STATE_TRANSACTION", message)
    with pytest.raises(ConcurrencyConflict):
        await StateStore(dapr, "s").transact([Upsert("a", 1, etag="1")])


async def test_other_transaction_failures_are_not_conflicts():
    dapr = FakeDaprHttp()
    dapr.error = DaprHttpError(500, "ERR_STATE_TRANSACTION", "connection refused")
    with pytest.raises(DaprHttpError):
        await StateStore(dapr, "s").transact([Upsert("a", 1)])


async def test_create_json_is_first_write_and_reports_existing_key_as_false():
    dapr = FakeDaprHttp()
    assert await StateStore(dapr, "s").create_json("a", 1) is True
    [item] = dapr.calls[0][2]
    assert item["options"] == {"concurrency": "first-write"} and "etag" not in item

    dapr.error = DaprHttpError(
        500, "ERR_STATE_SAVE", "failed saving state in state store s: no item was updated"
    )
    assert await StateStore(dapr, "s").create_json("a", 1) is False


async def test_create_json_raises_other_save_failures():
    dapr = FakeDaprHttp()
    dapr.error = DaprHttpError(500, "ERR_STATE_SAVE", "connection refused")
    with pytest.raises(DaprHttpError):
        await StateStore(dapr, "s").create_json("a", 1)


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


async def test_publishes_json_to_the_topic():
    dapr = FakeDaprHttp()
    await DaprPublisher(dapr, "pubsub").publish("order-replies", DaprReply.drop())
    await DaprPublisher(dapr, "pubsub").publish("order-replies", {"a": 1})
    assert dapr.calls == [
        ("POST", "/publish/pubsub/order-replies", {"status": "DROP"}),
        ("POST", "/publish/pubsub/order-replies", {"a": 1}),
    ]


def test_event_data_parses_json_text_and_passes_objects():
    assert event_data({"data": {"a": 1}}) == {"a": 1}
    assert event_data({"data": '{"a": 1}'}) == {"a": 1}
    assert event_data("nope") is None


async def test_a_checked_write_inserts_what_was_read_as_missing_and_fails_if_someone_was_first():
    from saga_testkit.dapr import InMemoryStateStore

    store = InMemoryStateStore()
    assert checked_write("k", 1, None) == Insert("k", 1)
    assert checked_write("k", 1, "7") == Upsert("k", 1, "7")

    await store.transact([checked_write("k", {"n": 1}, None)])  # read as missing: inserted
    with pytest.raises(ConcurrencyConflict):  # a second writer that also read it as missing
        await store.transact([checked_write("k", {"n": 2}, None), Upsert("other", 1)])
    assert store.snapshot() == {"k": {"n": 1}}  # and its transaction changed nothing


async def test_an_insert_goes_to_dapr_as_a_first_write_operation():
    dapr = FakeDaprHttp()
    await StateStore(dapr, "s").transact([Insert("a", 1)])
    [operation] = dapr.calls[0][2]["operations"]
    assert operation == {
        "operation": "upsert",
        "request": {"key": "a", "value": 1, "options": {"concurrency": "first-write"}},
    }
