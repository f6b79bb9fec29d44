import json

import pytest
from dapr_helpers.index import ChunkedIndex, page_in_memory
from dapr_helpers.state import ConcurrencyConflict
from saga_testkit.dapr import InMemoryStateStore


async def append(index: ChunkedIndex, name: str, *entries: object) -> None:
    head = await index.head(name)
    await index.store.transact(head.append(*entries))


async def test_pages_walk_the_list_newest_first_to_its_end() -> None:
    index = ChunkedIndex(InMemoryStateStore(), chunk_size=4)
    for n in range(11):
        await append(index, "ids", n)

    seen, cursor = [], None
    while True:
        page = await index.page("ids", limit=3, before=cursor)
        assert page.total == 11
        seen += page.entries
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(range(10, -1, -1))
    assert await index.all("ids") == list(range(11))


@pytest.mark.parametrize("count", [0, 1, 4, 5, 8, 9])
async def test_every_window_across_sealed_chunks_and_tail_is_exact(count: int) -> None:
    index = ChunkedIndex(InMemoryStateStore(), chunk_size=4)
    await append(index, "ids", *range(count))
    for before in range(count + 1):
        for limit in range(1, 7):
            page = await index.page("ids", limit, before)
            assert page.entries == list(range(before - 1, max(before - limit, 0) - 1, -1))
            assert page.next_cursor == (before - limit if before - limit > 0 else None)


@pytest.mark.parametrize("count", [0, 1, 4, 5, 9])
async def test_a_list_in_memory_pages_as_the_index_holding_it_does(count: int) -> None:
    """A record that still embeds its list answers with the same pages and cursors."""
    index = ChunkedIndex(InMemoryStateStore(), chunk_size=4)
    await append(index, "ids", *range(count))
    for before in [None, *range(count + 2)]:
        for limit in range(1, 7):
            assert page_in_memory(list(range(count)), limit, before) == await index.page("ids", limit, before)


async def test_no_record_grows_with_the_list() -> None:
    store = InMemoryStateStore()
    index = ChunkedIndex(store, chunk_size=64)

    def largest() -> int:
        return max(len(json.dumps(value)) for value, _ in store.data.values())

    for n in range(10_000):
        await append(index, "ids", 1_000_000 + n)
        if n == 999:
            after_a_thousand = largest()
    assert largest() == after_a_thousand < 1024  # a full chunk of 7-digit ids, at any count
    assert (await index.page("ids", 2)).entries == [1_009_999, 1_009_998]


async def test_two_appends_from_the_same_read_conflict_instead_of_losing_one() -> None:
    index = ChunkedIndex(InMemoryStateStore(), chunk_size=4)
    await append(index, "ids", "a")
    first, second = await index.head("ids"), await index.head("ids")
    await index.store.transact(first.append("b"))
    with pytest.raises(ConcurrencyConflict):
        await index.store.transact(second.append("c"))
    assert await index.all("ids") == ["a", "b"]


def test_a_chunk_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        ChunkedIndex(InMemoryStateStore(), chunk_size=0)
