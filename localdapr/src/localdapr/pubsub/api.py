"""The publish API over gRPC (`PublishEvent`, `BulkPublishEvent[Alpha1]`) and HTTP.

Mirrors dapr/dapr `pkg/api/grpc/grpc.go` and `pkg/api/http/http.go`: the same
validation order and errors (`pkg/api/errors/pubsub.go`: an unknown pubsub is
gRPC INVALID_ARGUMENT / HTTP 404 `ERR_PUBSUB_NOT_FOUND`), `metadata.*` query
parameters on HTTP, `rawPayload` publishing the bytes as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from aiohttp import web
from dapr.proto.runtime.v1 import pubsub_pb2
from google.protobuf import any_pb2, empty_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from ..tracing import SpanContext, parse_grpc_metadata, request_span
from . import cloudevents
from .delivery import parse_bool

if TYPE_CHECKING:
    from ..block import Host
    from .broker import Broker, Item


@dataclass
class PublishError(Exception):
    """A Dapr API error, renderable as a rich gRPC status or Dapr's HTTP JSON."""

    grpc_code: grpc.StatusCode
    http_status: int
    error_code: str  # legacy errorCode, e.g. ERR_PUBSUB_NOT_FOUND
    reason: str  # ErrorInfo reason, e.g. DAPR_PUBSUB_NOT_FOUND
    message: str
    pubsub: str = ""
    resource_info: bool = True  # errors/pubsub.go: NotFound and NotConfigured carry none
    info: dict[str, str] | None = None  # the ErrorInfo's metadata (Go nil: JSON null)

    def grpc_status(self) -> grpc.Status:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain="dapr.io", metadata=self.info or {})
        resource = error_details_pb2.ResourceInfo(
            resource_type="pubsub", resource_name=self.pubsub, description=self.message
        )
        details = []
        for detail in (info, resource) if self.resource_info else (info,):
            packed = any_pb2.Any()
            packed.Pack(detail)
            details.append(packed)
        code = self.grpc_code.value[0]
        return rpc_status.to_status(status_pb2.Status(code=code, message=self.message, details=details))

    def http_response(self) -> web.Response:
        details: list[dict[str, Any]] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": self.reason,
                "domain": "dapr.io",
                "metadata": self.info,
            }
        ]
        if self.resource_info:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.ResourceInfo",
                    "resource_type": "pubsub",
                    "resource_name": self.pubsub,
                    "owner": "",
                    "description": self.message,
                }
            )
        body = {"errorCode": self.error_code, "message": self.message, "details": details}
        return web.json_response(body, status=self.http_status)


def _validate(sidecar: Host, pubsub: str, topic: str, metadata: dict[str, str], http: bool = False) -> bool:
    """Check the request as daprd does; returns whether the payload is raw. The errors carry the
    request's metadata in their ErrorInfo, but over gRPC not-found carries none (grpc.go passes
    nil there; http.go validateAndGetPubsubAndTopic passes the request's, maybe empty)."""
    if not pubsub:
        raise PublishError(
            grpc.StatusCode.INVALID_ARGUMENT,
            404,
            "ERR_PUBSUB_EMPTY",
            "DAPR_PUBSUB_NAME_EMPTY",
            "pubsub name is empty",
            info=metadata,
        )
    names = {c.name for c in sidecar.options.resources.components_for(sidecar.app_id, "pubsub")}
    if pubsub not in names:
        raise PublishError(
            grpc.StatusCode.INVALID_ARGUMENT,
            404,
            "ERR_PUBSUB_NOT_FOUND",
            "DAPR_PUBSUB_NOT_FOUND",
            f"pubsub {pubsub} is not found",
            pubsub,
            resource_info=False,
            info=metadata if http else None,
        )
    if not topic:
        raise PublishError(
            grpc.StatusCode.INVALID_ARGUMENT,
            404,
            "ERR_TOPIC_EMPTY",
            "DAPR_PUBSUB_TOPIC_NAME_EMPTY",
            f"topic is empty in pubsub {pubsub}",
            pubsub,
            info=metadata,
        )
    value = metadata.get("rawPayload")
    try:
        return parse_bool(value) if value else False
    except ValueError as exc:
        raise PublishError(
            grpc.StatusCode.INVALID_ARGUMENT,
            400,
            "ERR_PUBSUB_REQUEST_METADATA",
            "DAPR_PUBSUB_METADATA_DESERIALIZATION",
            f"failed deserializing metadata. Error: {exc}",
            pubsub,
            info=metadata,
        ) from None


def _encode(
    sidecar: Host,
    *,
    pubsub: str,
    topic: str,
    data: bytes,
    content_type: str,
    metadata: dict[str, str],
    raw: bool,
    span: SpanContext | None,
) -> tuple[bytes, dict[str, str], dict[str, Any] | None]:
    """The bytes the broker stores, the metadata that travels with them, the envelope's fields.
    The publish span's context becomes `traceparent`/`traceid` and `tracestate` ("" without
    one: grpc.go takes them from diag.TraceIDAndStateFromSpan, which skips an invalid span)."""
    trace = span.w3c() if span is not None else ""
    state = span.state if span is not None else ""
    if raw:
        return data, {**metadata, "traceid": trace, "tracestate": state}, None
    try:
        envelope, fields = cloudevents.new_envelope(
            data=data,
            data_content_type=content_type,
            topic=topic,
            pubsub=pubsub,
            source=sidecar.app_id,
            traceparent=trace,
            tracestate=state,
            metadata=metadata,
        )
    except cloudevents.CloudEventError:
        raise PublishError(
            grpc.StatusCode.INVALID_ARGUMENT,
            500,
            "ERR_PUBSUB_CLOUD_EVENTS_SER",
            "DAPR_PUBSUB_CLOUD_EVENT_CREATION",
            "cannot create cloudevent",
            pubsub,
        ) from None
    return envelope, dict(metadata), fields


def _grpc_span(sidecar: Host, context: grpc.aio.ServicerContext) -> SpanContext | None:
    """The span the gRPC trace interceptor starts for this call."""
    return sidecar.tracing.span(parse_grpc_metadata(dict(context.invocation_metadata() or ())))


class PublishAPI:
    def __init__(self, sidecar: Host, broker: Broker) -> None:
        self.sidecar = sidecar
        self.broker = broker

    async def publish(
        self,
        pubsub: str,
        topic: str,
        data: bytes,
        content_type: str,
        metadata: dict[str, str],
        span: SpanContext | None,
        http: bool = False,
    ) -> None:
        raw = _validate(self.sidecar, pubsub, topic, metadata, http)
        stored, md, fields = _encode(
            self.sidecar,
            pubsub=pubsub,
            topic=topic,
            data=data,
            content_type=content_type,
            metadata=metadata,
            raw=raw,
            span=span,
        )
        await self.broker.publish(pubsub, topic, stored, md, raw, fields)

    # -- gRPC ----------------------------------------------------------------
    async def PublishEvent(
        self, request: pubsub_pb2.PublishEventRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        try:
            await self.publish(
                request.pubsub_name,
                request.topic,
                request.data,
                request.data_content_type,
                dict(request.metadata),
                _grpc_span(self.sidecar, context),
            )
        except PublishError as err:
            await _abort(context, err)
        return empty_pb2.Empty()

    async def BulkPublishEvent(
        self, request: pubsub_pb2.BulkPublishRequest, context: grpc.aio.ServicerContext
    ) -> pubsub_pb2.BulkPublishResponse:
        pubsub, topic = request.pubsub_name, request.topic
        try:
            raw = _validate(self.sidecar, pubsub, topic, dict(request.metadata))
            seen: set[str] = set()
            items: list[Item] = []
            span = _grpc_span(self.sidecar, context)
            for entry in request.entries:
                if not entry.entry_id or entry.entry_id in seen:
                    raise PublishError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        400,
                        "ERR_PUBSUB_EVENTS_SER",
                        "DAPR_PUBSUB_MARSHAL_EVENTS",
                        f"error marshaling events to bytes for topic {topic} pubsub {pubsub}. "
                        "error: entryId is duplicated or not present for entry",
                        pubsub,
                    )
                seen.add(entry.entry_id)
                # Entry metadata overrides request metadata (PopulateMetadataForBulkPublishEntry).
                metadata = {**dict(request.metadata), **dict(entry.metadata)}
                stored, md, fields = _encode(
                    self.sidecar,
                    pubsub=pubsub,
                    topic=topic,
                    data=entry.event,
                    content_type=entry.content_type,
                    metadata=metadata,
                    raw=raw,
                    span=span,
                )
                items.append((stored, md, raw, fields))
        except PublishError as err:
            await _abort(context, err)
        await self.broker.publish_many(pubsub, topic, items)
        return pubsub_pb2.BulkPublishResponse()

    BulkPublishEventAlpha1 = BulkPublishEvent

    # -- HTTP ----------------------------------------------------------------
    async def http_publish(self, request: web.Request) -> web.Response:
        metadata = {
            key[len("metadata.") :]: value
            for key, value in request.query.items()
            if key.lower().startswith("metadata.")
        }
        try:
            await self.publish(
                request.match_info.get("pubsub", ""),
                request.match_info.get("topic", ""),
                await request.read(),
                request.headers.get("Content-Type", ""),
                metadata,
                request_span(self.sidecar.tracing, request),
                http=True,
            )
        except PublishError as err:
            return err.http_response()
        return web.Response(status=204)


async def _abort(context: grpc.aio.ServicerContext, err: PublishError) -> Any:
    status = err.grpc_status()
    await context.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)
