"""The state API of one sidecar, independent of the transport.

Does what daprd's handlers do before and after calling the component
(dapr/dapr `pkg/api/grpc/grpc.go`, `pkg/api/http/http.go`,
`pkg/api/universal/state_query.go`): find the store among the app's visible
components, prefix keys with the app id, and turn store errors into Dapr's API
errors. `grpc_api` and `http_api` only translate messages to and from this.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import store as st
from .errors import ETagInvalid, ETagMismatch, InvalidKey, StateError

# gRPC status names (grpc.StatusCode members) and HTTP statuses, as daprd pairs them.
INVALID_ARGUMENT = ("INVALID_ARGUMENT", 400)
ABORTED = ("ABORTED", 409)
INTERNAL = ("INTERNAL", 500)
FAILED_PRECONDITION = ("FAILED_PRECONDITION", 500)
UNIMPLEMENTED = ("UNIMPLEMENTED", 400)
UNKNOWN = ("UNKNOWN", 500)


@dataclass
class ApiError(Exception):
    """An error as daprd reports it: gRPC status, HTTP status and body, rich details."""

    grpc_code: str
    http_status: int
    error_code: str  # the HTTP body's "errorCode" (daprd's legacy tag)
    message: str
    reason: str | None = None  # google.rpc.ErrorInfo reason, when daprd sends one
    info: dict[str, str] = field(default_factory=dict)  # ErrorInfo metadata
    resource: tuple[str, str] | None = None  # google.rpc.ResourceInfo (type, name)

    def __str__(self) -> str:
        return self.message

    def http_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"errorCode": self.error_code, "message": self.message}
        details: list[dict[str, Any]] = []
        if self.reason:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": self.reason,
                    "domain": "dapr.io",
                    "metadata": self.info or None,
                }
            )
        if self.resource:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.ResourceInfo",
                    "resource_type": self.resource[0],
                    "resource_name": self.resource[1],
                }
            )
        if details:
            body["details"] = details
        return body


def _error(pair: tuple[str, int], error_code: str, message: str, **kw: Any) -> ApiError:
    return ApiError(pair[0], pair[1], error_code, message, **kw)


def store_error(err: StateError, error_code: str, message: str) -> ApiError:
    """daprd's stateErrorResponse: ETag errors keep their kind, the rest are internal."""
    pair = {"mismatch": ABORTED, "invalid": INVALID_ARGUMENT}.get(err.kind, INTERNAL)
    return _error(pair, error_code, message)


def bulk_failure(errors: Sequence[StateError | None]) -> StateError | None:
    """daprd's PerformBulkStoreOperation: one request fails as itself; several join
    their errors, and only count as an ETag error when every failure is one."""
    failed = [e for e in errors if e is not None]
    if not failed:
        return None
    if len(errors) == 1:
        return failed[0]
    joined = "\n".join(str(e) for e in failed)
    if all(e.kind for e in failed):
        return ETagInvalid(joined) if any(e.kind == "invalid" for e in failed) else ETagMismatch(joined)
    return StateError(joined)


@dataclass
class Op:
    """One transaction operation as received: `operation` is "upsert" or "delete"."""

    operation: str
    request: st.SetRequest | st.DeleteRequest


class StateAPI:
    def __init__(self, store: st.StateStore, app_id: str, tables: dict[str, str]) -> None:
        self.store = store
        self.app_id = app_id
        # The state stores this app may see (scopes applied) -> the table each one uses.
        self.tables = dict(tables)

    # -- validation ------------------------------------------------------------
    def check_store(self, name: str) -> str:
        """daprd's GetStateStore: not configured (no store at all) or not found; the table."""
        info = {"appID": self.app_id}
        if not self.tables:
            raise _error(
                FAILED_PRECONDITION,
                "ERR_STATE_STORE_NOT_CONFIGURED",
                f"state store {name} is not configured",
                reason="DAPR_STATE_NOT_CONFIGURED",
                info=info,
            )
        if name not in self.tables:
            raise _error(
                INVALID_ARGUMENT,
                "ERR_STATE_STORE_NOT_FOUND",
                f"state store {name} is not found",
                reason="DAPR_STATE_NOT_FOUND",
                info=info,
            )
        return self.tables[name]

    def key(self, store_name: str, key: str) -> str:
        try:
            return st.modified_key(self.app_id, key)
        except InvalidKey as exc:
            raise _error(
                INVALID_ARGUMENT,
                "ERR_MALFORMED_REQUEST",
                str(exc),
                reason="DAPR_STATE_ILLEGAL_KEY",
                resource=("state", store_name),
            ) from None

    # -- operations --------------------------------------------------------------
    def get(self, store_name: str, key: str) -> st.Item | None:
        table = self.check_store(store_name)
        return self.store.get(table, self.key(store_name, key))

    def bulk_get(self, store_name: str, keys: Sequence[str]) -> list[tuple[str, st.Item | None]]:
        table = self.check_store(store_name)
        if not keys:
            return []
        full = [self.key(store_name, k) for k in keys]
        return list(zip(keys, self.store.bulk_get(table, full), strict=True))

    def save(self, store_name: str, reqs: Sequence[st.SetRequest]) -> None:
        """SaveState: keys are the app's own; each item succeeds or fails on its own."""
        table = self.check_store(store_name)
        if not reqs:
            return
        for req in reqs:
            if not req.key:
                raise _error(INVALID_ARGUMENT, "ERR_MALFORMED_REQUEST", "state key cannot be empty")
            req.key = self.key(store_name, req.key)
            if req.is_json:
                try:
                    json.loads(req.value)
                except ValueError as exc:
                    # daprd returns json.Unmarshal's error as is (gRPC UNKNOWN).
                    raise _error(UNKNOWN, "ERR_MALFORMED_REQUEST", str(exc)) from None
        if len(reqs) == 1:
            errors: list[StateError | None] = [None]
            try:
                self.store.set(table, reqs[0])
            except StateError as exc:
                errors = [exc]
        else:
            errors = list(self.store.bulk(table, reqs))
        if err := bulk_failure(errors):
            raise store_error(
                err, "ERR_STATE_SAVE", f"failed saving state in state store {store_name}: {err}"
            )

    def delete(self, store_name: str, key: str, req: st.DeleteRequest) -> None:
        table = self.check_store(store_name)
        req.key = self.key(store_name, key)
        try:
            self.store.delete(table, req)
        except StateError as exc:
            raise store_error(
                exc, "ERR_STATE_DELETE", f"failed deleting state with key {key}: {exc}"
            ) from None

    def delete_bulk(self, store_name: str, reqs: Sequence[st.DeleteRequest]) -> None:
        table = self.check_store(store_name)
        for req in reqs:
            req.key = self.key(store_name, req.key)
        if not reqs:
            return
        if err := bulk_failure(self.store.bulk(table, reqs)):
            msg = f"failed deleting state in state store {store_name}: {err}"
            raise store_error(err, "ERR_STATE_DELETE", msg)

    def transact(self, store_name: str, ops: Sequence[Op]) -> None:
        """ExecuteStateTransaction: all or nothing; any store failure is INTERNAL."""
        table = self.check_store(store_name)
        requests: list[st.SetRequest | st.DeleteRequest] = []
        for op in ops:
            op.request.key = self.key(store_name, op.request.key)
            if op.operation not in ("upsert", "delete"):
                raise _error(
                    UNIMPLEMENTED,
                    "ERR_NOT_SUPPORTED_STATE_OPERATION",
                    f"operation type {op.operation} not supported",
                )
            requests.append(op.request)
        if not requests:
            return
        try:
            self.store.multi(table, requests)
        except StateError as exc:
            raise _error(
                INTERNAL, "ERR_STATE_TRANSACTION", f"error while executing state transaction: {exc}"
            ) from None

    def query(self, store_name: str, text: str) -> tuple[list[st.QueryResult], str]:
        table = self.check_store(store_name)

        def failed(detail: str) -> ApiError:
            return _error(
                INTERNAL,
                "ERR_STATE_QUERY",
                f"state store {store_name} query failed: {detail}",
                reason="DAPR_STATE_QUERY_FAILED",
                resource=("state", store_name),
            )

        try:
            query = json.loads(text)
        except ValueError as exc:
            raise failed(f"failed to parse JSON query body: {exc}") from None
        try:
            return self.store.query(table, query)
        except (StateError, KeyError, TypeError, ValueError) as exc:
            raise failed(str(exc)) from None
