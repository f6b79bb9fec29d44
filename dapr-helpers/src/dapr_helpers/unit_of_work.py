"""One read-decide-write on a state store: reads remember their ETags, changes commit together.

A use case reads what it decides on through a `UnitOfWork` (`get`, or `get_many`
for several keys in one bulk read), records its changes (`put`, `delete`, and
`append` for a `ChunkedIndex`) and calls `commit`, which writes them all in one
transaction. Each write is checked against its read (`checked_write`: the ETag it
was read with, or insert-only for a key read as missing), so if anyone wrote one
of those keys in between, the commit raises `ConcurrencyConflict` and
`retry_on_conflict` runs the whole read-decide-write again, in a new unit.
"""

from collections.abc import Sequence
from typing import Any

from dapr_helpers.index import DEFAULT_CHUNK, head_from
from dapr_helpers.state import Delete, JsonStore, Operation, Upsert, checked_write


class UnitOfWork:
    def __init__(self, store: JsonStore) -> None:
        self.store = store
        self._read: dict[str, tuple[Any | None, str | None]] = {}  # as read: (None, None) if missing
        self._changes: dict[str, Operation] = {}  # the write of each changed key, the last one wins

    async def get(self, key: str) -> Any | None:
        """The value of `key`, None if it is missing; the store is asked once per unit."""
        if key not in self._read:
            self._read[key] = await self.store.get_json(key)
        return self.value(key)

    async def get_many(self, keys: Sequence[str]) -> dict[str, Any | None]:
        """The values of `keys` (None: missing); those this unit has not read yet, in one bulk read."""
        if unread := [key for key in dict.fromkeys(keys) if key not in self._read]:
            self._read.update(await self.store.bulk_get_json(unread))
        return {key: self.value(key) for key in keys}

    def value(self, key: str) -> Any | None:
        """What the unit holds for a key it read: its change, if any, else the value read."""
        change = self._changes.get(key)
        if change is None:
            return self._read[key][0]
        return None if isinstance(change, Delete) else change.value

    def put(self, key: str, value: Any) -> None:
        """Write `key` at commit, unless someone wrote it since this unit read it."""
        self._changes[key] = checked_write(key, value, self._etag(key))

    def overwrite(self, key: str, value: Any) -> None:
        """Write `key` at commit, unread and unchecked: for a key that another checked
        write of the unit guards (a record whose id was just taken from a counter)."""
        self._changes[key] = Upsert(key, value)

    def delete(self, key: str) -> None:
        """Delete `key` at commit, unless someone wrote it since this unit read it."""
        if (etag := self._etag(key)) is None:  # read as missing: nothing to delete
            self._changes.pop(key, None)
        else:
            self._changes[key] = Delete(key, etag)

    def append(self, name: str, *entries: Any, chunk_size: int = DEFAULT_CHUNK) -> None:
        """Append `entries` to the `ChunkedIndex` whose head, `name`, this unit read: the head's
        write is checked like any other, and the chunks it seals are inserted."""
        if entries:
            head = head_from(name, self.value(name), self._etag(name), chunk_size)
            self._changes.update((op.key, op) for op in head.append(*entries))

    async def commit(self) -> None:
        """Every change in one transaction (none if nothing changed); then the unit starts afresh."""
        if self._changes:
            await self.store.transact(list(self._changes.values()))
        self._read.clear()
        self._changes.clear()

    def _etag(self, key: str) -> str | None:
        if key not in self._read:  # an unread key's write could not be checked
            raise KeyError(f"{key!r} was not read in this unit of work")
        return self._read[key][1]
