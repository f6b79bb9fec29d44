"""The state store's errors; `kind` says how the API reports each."""

from __future__ import annotations


class StateError(Exception):
    """A store error; `kind` says how the API reports it ("mismatch", "invalid", "")."""

    kind = ""


class ETagMismatch(StateError):
    kind = "mismatch"

    def __init__(self, detail: str | None = None) -> None:
        prefix = "possible etag mismatch. error from state store"
        super().__init__(f"{prefix}: {detail}" if detail else prefix)


class ETagInvalid(StateError):
    kind = "invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(f"invalid etag value: {detail}")


class InvalidKey(ValueError):
    """A key daprd refuses before reaching the store (it contains `||`)."""


class QueryError(StateError):
    pass
