"""An append-only list kept in a Dapr state store in records of bounded size.

A listing (a login's orders, an account's payments, a product's reservations)
grows with the shop's history, but no write on a saga's path may. So the list
is cut into sealed chunks of `chunk_size` entries, written once and never again,
plus a head record holding the count and the unsealed tail:

    {name}            {"count": 1234, "tail": [e1201, ..., e1234]}
    {name}/{n}        [entries n*chunk_size ... (n+1)*chunk_size - 1]   (sealed)

An append reads the head and writes it (and, when the tail fills, inserts the
sealed chunk) in the caller's own transaction, so the entry and what it indexes
commit together (`UnitOfWork.append` does so for a head read in a unit of
work); the head's ETag serializes concurrent appends. Every record stays under
`chunk_size` entries. A page, newest first, reads the head and the sealed
chunks it reaches in one bulk read; its cursor is a position, stable as the
list grows.

Why chunks rather than the state store's query API: state.postgresql v2 (the
chart's store) does not implement Query, and chunks behave the same on every
store and both runtimes.
"""

from dataclasses import dataclass, field
from typing import Any, cast

from dapr_helpers.state import Insert, JsonStore, Operation, checked_write

DEFAULT_CHUNK = 64


@dataclass(frozen=True)
class IndexHead:
    """The head as read, with its ETag: what an append is written against."""

    name: str
    chunk_size: int
    count: int = 0
    tail: list[Any] = field(default_factory=list)
    etag: str | None = None

    def append(self, *entries: Any) -> list[Operation]:
        """The writes that append `entries`, to commit with the caller's own writes."""
        ops: list[Operation] = []
        count, tail = self.count, list(self.tail)
        for entry in entries:
            tail.append(entry)
            count += 1
            if len(tail) == self.chunk_size:  # seal it: written once, never again
                ops.append(Insert(chunk_key(self.name, count // self.chunk_size - 1), tail))
                tail = []
        ops.append(checked_write(self.name, {"count": count, "tail": tail}, self.etag))
        return ops


@dataclass(frozen=True)
class Page:
    entries: list[Any]  # newest first
    next_cursor: int | None  # pass as `before` for the next (older) page; None at the end
    total: int


def page_in_memory(entries: list[Any], limit: int, before: int | None = None) -> Page:
    """`ChunkedIndex.page` over a list held in memory, oldest first (a record that still
    embeds its list, as written before the index): the same positions and cursors."""
    start, end = _window(len(entries), limit, before)
    return _page(entries[start:end], start, len(entries))


def _window(count: int, limit: int, before: int | None) -> tuple[int, int]:
    """Positions [start, end) of a page: up to `limit` entries older than `before`."""
    end = count if before is None else max(0, min(before, count))
    return max(0, end - limit), end


def _page(oldest_first: list[Any], start: int, total: int) -> Page:
    return Page(oldest_first[::-1], start if start > 0 else None, total)


def chunk_key(name: str, n: int) -> str:
    return f"{name}/{n}"


def head_from(name: str, data: Any, etag: str | None, chunk_size: int = DEFAULT_CHUNK) -> IndexHead:
    """The head from the value read at `name` (None if the list is empty)."""
    if data is None:
        return IndexHead(name, chunk_size, etag=etag)
    return IndexHead(name, chunk_size, int(data["count"]), list(data["tail"]), etag)


class ChunkedIndex:
    def __init__(self, store: JsonStore, chunk_size: int = DEFAULT_CHUNK) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.store = store
        self.chunk_size = chunk_size

    async def head(self, name: str) -> IndexHead:
        data, etag = await self.store.get_json(name)
        return head_from(name, data, etag, self.chunk_size)

    async def page(self, name: str, limit: int, before: int | None = None) -> Page:
        """Up to `limit` entries older than position `before` (default: the newest), newest first."""
        return await self.page_of(await self.head(name), limit, before)

    async def page_of(self, head: IndexHead, limit: int, before: int | None = None) -> Page:
        """`page` from a head already read (a caller that needed its count first)."""
        start, end = _window(head.count, limit, before)
        return _page(await self._range(head, start, end), start, head.count)

    async def all(self, name: str) -> list[Any]:
        """Every entry, oldest first: for audits and migrations, not for a saga's path."""
        head = await self.head(name)
        return await self._range(head, 0, head.count)

    async def _range(self, head: IndexHead, start: int, end: int) -> list[Any]:
        """Entries [start, end), oldest first: from the sealed chunks, then the tail."""
        size, sealed = self.chunk_size, head.count - len(head.tail)
        entries: list[Any] = []
        sealed_end = min(end, sealed)
        if start < sealed_end:
            first, last = start // size, (sealed_end - 1) // size
            keys = [chunk_key(head.name, n) for n in range(first, last + 1)]
            found = await self.store.bulk_get_json(keys)
            if missing := [k for k in keys if found[k][0] is None]:  # written with their heads
                raise LookupError(f"index chunks missing: {', '.join(missing)}")
            flat = [e for k in keys for e in cast(list[Any], found[k][0])]
            entries = flat[start - first * size : sealed_end - first * size]
        if end > sealed:
            entries += head.tail[max(start, sealed) - sealed : end - sealed]
        return entries
