"""The state methods of the `dapr.proto.runtime.v1.Dapr` gRPC service.

Thin: messages in, `StateAPI` calls, messages out. Errors carry daprd's
status code, message and (where daprd sends them) google.rpc details, which
the SDK's `DaprGrpcError` reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from dapr.proto.common.v1 import common_pb2
from dapr.proto.runtime.v1 import state_pb2
from google.protobuf import any_pb2, empty_pb2
from google.rpc import error_details_pb2, status_pb2

from . import store as st
from .api import ApiError, Op, StateAPI

# common.v1.StateOptions.StateConcurrency -> the component's option (stateConcurrencyToString)
_CONCURRENCY = {1: st.FIRST_WRITE, 2: st.LAST_WRITE}


def _status_metadata(err: ApiError) -> tuple[tuple[str, bytes], ...]:
    """The `grpc-status-details-bin` trailer daprd's kit/errors adds."""
    if not err.reason and not err.resource:
        return ()
    status = status_pb2.Status(code=grpc.StatusCode[err.grpc_code].value[0], message=err.message)
    if err.reason:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=err.reason, domain="dapr.io", metadata=err.info))
        status.details.append(detail)
    if err.resource:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.ResourceInfo(resource_type=err.resource[0], resource_name=err.resource[1])
        )
        status.details.append(detail)
    return (("grpc-status-details-bin", status.SerializeToString()),)


async def _abort(context: grpc.aio.ServicerContext, err: ApiError) -> None:
    await context.abort(grpc.StatusCode[err.grpc_code], err.message, trailing_metadata=_status_metadata(err))


def _concurrency(item: Any) -> str:
    return _CONCURRENCY.get(item.options.concurrency, "") if item.HasField("options") else ""


def _etag(item: Any) -> str | None:
    return item.etag.value if item.HasField("etag") else None


def _set_request(item: common_pb2.StateItem, *, json_aware: bool) -> st.SetRequest:
    metadata = dict(item.metadata)
    content_type = metadata.get("contentType")
    return st.SetRequest(
        key=item.key,
        value=item.value,
        # SaveState parses JSON values; transactions store every value as bytes (grpc.go).
        is_json=json_aware and content_type == st.JSON_CONTENT_TYPE,
        content_type=content_type,
        etag=_etag(item),
        metadata=metadata,
        concurrency=_concurrency(item),
    )


class StateGrpc:
    def __init__(self, api: StateAPI) -> None:
        self.api = api

    def methods(self) -> dict[str, Callable[..., Any]]:
        return {
            "GetState": self.GetState,
            "GetBulkState": self.GetBulkState,
            "SaveState": self.SaveState,
            "DeleteState": self.DeleteState,
            "DeleteBulkState": self.DeleteBulkState,
            "ExecuteStateTransaction": self.ExecuteStateTransaction,
            "QueryStateAlpha1": self.QueryStateAlpha1,
        }

    async def GetState(self, request: state_pb2.GetStateRequest, context: Any) -> state_pb2.GetStateResponse:
        try:
            item = self.api.get(request.store_name, request.key)
        except ApiError as err:
            await _abort(context, err)
        if item is None:
            return state_pb2.GetStateResponse()
        return state_pb2.GetStateResponse(data=item.value, etag=item.etag, metadata=item.metadata)

    async def GetBulkState(
        self, request: state_pb2.GetBulkStateRequest, context: Any
    ) -> state_pb2.GetBulkStateResponse:
        try:
            found = self.api.bulk_get(request.store_name, list(request.keys))
        except ApiError as err:
            await _abort(context, err)
        items = [
            state_pb2.BulkStateItem(key=key)
            if item is None
            else state_pb2.BulkStateItem(key=key, data=item.value, etag=item.etag, metadata=item.metadata)
            for key, item in found
        ]
        return state_pb2.GetBulkStateResponse(items=items)

    async def SaveState(self, request: state_pb2.SaveStateRequest, context: Any) -> empty_pb2.Empty:
        try:
            self.api.save(request.store_name, [_set_request(s, json_aware=True) for s in request.states])
        except ApiError as err:
            await _abort(context, err)
        return empty_pb2.Empty()

    async def DeleteState(self, request: state_pb2.DeleteStateRequest, context: Any) -> empty_pb2.Empty:
        req = st.DeleteRequest(
            key=request.key,
            etag=_etag(request),
            metadata=dict(request.metadata),
            concurrency=_concurrency(request),
        )
        try:
            self.api.delete(request.store_name, request.key, req)
        except ApiError as err:
            await _abort(context, err)
        return empty_pb2.Empty()

    async def DeleteBulkState(
        self, request: state_pb2.DeleteBulkStateRequest, context: Any
    ) -> empty_pb2.Empty:
        reqs = [
            st.DeleteRequest(key=s.key, etag=_etag(s), metadata=dict(s.metadata), concurrency=_concurrency(s))
            for s in request.states
        ]
        try:
            self.api.delete_bulk(request.store_name, reqs)
        except ApiError as err:
            await _abort(context, err)
        return empty_pb2.Empty()

    async def ExecuteStateTransaction(
        self, request: state_pb2.ExecuteStateTransactionRequest, context: Any
    ) -> empty_pb2.Empty:
        ops: list[Op] = []
        for o in request.operations:
            item = o.request
            if o.operationType == "delete":
                req: st.SetRequest | st.DeleteRequest = st.DeleteRequest(
                    key=item.key,
                    etag=_etag(item),
                    metadata=dict(item.metadata),
                    concurrency=_concurrency(item),
                )
            else:
                req = _set_request(item, json_aware=False)
            ops.append(Op(o.operationType, req))
        try:
            self.api.transact(request.storeName, ops)
        except ApiError as err:
            await _abort(context, err)
        return empty_pb2.Empty()

    async def QueryStateAlpha1(
        self, request: state_pb2.QueryStateRequest, context: Any
    ) -> state_pb2.QueryStateResponse:
        try:
            results, token = self.api.query(request.store_name, request.query)
        except ApiError as err:
            await _abort(context, err)
        if not results:
            return state_pb2.QueryStateResponse()
        return state_pb2.QueryStateResponse(
            results=[state_pb2.QueryStateItem(key=r.key, data=r.value, etag=r.etag) for r in results],
            token=token,
        )
