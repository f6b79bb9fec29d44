import asyncio
from collections.abc import Sequence

import pytest
from dapr_helpers.index import ChunkedIndex
from dapr_helpers.state import ConcurrencyConflict, Delete, Insert, Operation, Upsert, retry_on_conflict
from dapr_helpers.unit_of_work import UnitOfWork
from saga_testkit.dapr import CountingStore, InMemoryStateStore


class RecordingStore(InMemoryStateStore):
    """Keeps the operations of each transaction it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[list[Operation]] = []

    async def transact(self, ops: Sequence[Operation]) -> None:
        self.written.append(list(ops))
        await super().transact(ops)


def a_store(**data: object) -> RecordingStore:
    store = RecordingStore()
    for key, value in data.items():
        store.data[key] = (value, f"etag-{key}")
    return store


async def test_a_command_costs_one_bulk_read_and_one_transaction() -> None:
    store = CountingStore(a_store(account={"balance": 10}, head={"count": 1, "tail": ["a"]}))
    uow = UnitOfWork(store)
    found = await uow.get_many(["account", "payment", "head"])
    assert found == {"account": {"balance": 10}, "payment": None, "head": {"count": 1, "tail": ["a"]}}
    assert await uow.get("account") == {"balance": 10}  # read already: the store is not asked again
    uow.put("account", {"balance": 4})
    uow.put("payment", {"status": "charged"})
    uow.append("head", "b", chunk_size=4)
    await uow.commit()
    assert store.counted() == {"bulk_get_json": 1, "transact": 1}
    assert store.store.snapshot() == {  # type: ignore[attr-defined]
        "account": {"balance": 4},
        "payment": {"status": "charged"},
        "head": {"count": 2, "tail": ["a", "b"]},
    }


async def test_writes_are_checked_against_the_etag_read_or_insert_only_for_a_missing_key() -> None:
    store = a_store(a=1)
    uow = UnitOfWork(store)
    await uow.get_many(["a", "b", "c"])
    uow.put("a", 2)
    uow.put("b", 3)
    uow.overwrite("d", 4)
    uow.delete("c")  # read as missing: nothing to delete
    await uow.commit()
    assert store.written == [[Upsert("a", 2, "etag-a"), Insert("b", 3), Upsert("d", 4)]]


async def test_a_concurrent_write_makes_the_commit_conflict_and_writes_nothing() -> None:
    store = a_store(a=1)
    first, second = UnitOfWork(store), UnitOfWork(store)
    assert await first.get("a") == await second.get("a") == 1
    assert await first.get("new") is None and await second.get("new") is None
    first.put("a", 2)
    await first.commit()
    second.put("a", 3)
    with pytest.raises(ConcurrencyConflict):
        await second.commit()
    assert store.snapshot() == {"a": 2}

    third, fourth = UnitOfWork(store), UnitOfWork(store)
    await third.get("new"), await fourth.get("new")
    third.put("new", "mine")
    fourth.put("new", "theirs")
    await third.commit()
    with pytest.raises(ConcurrencyConflict):  # it was read as missing, and is not any more
        await fourth.commit()
    assert store.snapshot() == {"a": 2, "new": "mine"}


async def test_retry_on_conflict_reruns_the_whole_read_decide_write() -> None:
    store = a_store(counter=0)

    async def increment() -> None:
        uow = UnitOfWork(store)
        uow.put("counter", await uow.get("counter") + 1)  # type: ignore[operator]
        await uow.commit()

    await asyncio.gather(*(retry_on_conflict(increment) for _ in range(10)))
    assert store.snapshot() == {"counter": 10}


async def test_a_unit_reads_its_own_changes_and_commits_nothing_when_nothing_changed() -> None:
    store = CountingStore(a_store(a=1, gone="x"))
    uow = UnitOfWork(store)
    await uow.get_many(["a", "gone"])
    uow.put("a", 2)
    uow.delete("gone")
    assert (uow.value("a"), await uow.get("gone")) == (2, None)
    await uow.commit()
    assert store.store.snapshot() == {"a": 2}  # type: ignore[attr-defined]

    duplicate = UnitOfWork(store)
    await duplicate.get("a")
    await duplicate.commit()
    assert store.counted() == {"bulk_get_json": 1, "transact": 1, "get_json": 1}


async def test_a_write_of_a_key_the_unit_did_not_read_is_refused() -> None:
    uow = UnitOfWork(InMemoryStateStore())
    with pytest.raises(KeyError):
        uow.put("unread", 1)
    with pytest.raises(KeyError):
        uow.append("unread-index", 1)


async def test_appends_seal_chunks_and_conflict_with_a_concurrent_append() -> None:
    store = InMemoryStateStore()
    index = ChunkedIndex(store, chunk_size=2)
    uow = UnitOfWork(store)
    await uow.get("ids")
    uow.append("ids", 1, 2, chunk_size=2)
    uow.append("ids", 3, chunk_size=2)  # continues from the unit's own change
    await uow.commit()
    assert store.snapshot() == {"ids/0": [1, 2], "ids": {"count": 3, "tail": [3]}}
    assert await index.all("ids") == [1, 2, 3]

    first, second = UnitOfWork(store), UnitOfWork(store)
    await first.get("ids"), await second.get("ids")
    first.append("ids", 4, chunk_size=2)
    second.append("ids", 5, chunk_size=2)
    await first.commit()
    with pytest.raises(ConcurrencyConflict):
        await second.commit()
    assert await index.all("ids") == [1, 2, 3, 4]


async def test_delete_carries_the_etag_it_was_read_with() -> None:
    store = a_store(old="v1")
    uow = UnitOfWork(store)
    await uow.get("old")
    uow.delete("old")
    store.data["old"] = ("v1 again", "changed")
    with pytest.raises(ConcurrencyConflict):
        await uow.commit()
    assert store.written == [[Delete("old", "etag-old")]] and store.snapshot() == {"old": "v1 again"}
