"""The metadata API (`/v1.0/metadata`, gRPC `GetMetadata`/`SetMetadata`) and shutdown.

Shapes follow dapr/dapr `pkg/api/http/metadata.go` (JSON keys) and
`dapr/proto/runtime/v1/metadata.proto`. Subscriptions are asked from whichever
block knows them (a `metadata_subscriptions()` method returning the JSON
shape), so this block does not depend on the pub/sub implementation; without
one, the declarative subscriptions from the resources are listed.

This block is started last: its start marks the sidecar healthy. Its catch-all route
hands requests carrying `dapr-app-id` to the invoke block.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
from aiohttp import web
from dapr.proto.runtime.v1 import metadata_pb2
from google.protobuf import empty_pb2

from . import __version__
from .block import Block, Host
from .config import Component
from .health import HealthBlock
from .invoke import InvokeBlock

log = logging.getLogger("localdapr.metadata")

RUNTIME_VERSION = f"{__version__}-localdapr"
# Preview features daprd 1.18 enables by default (pkg/config/configuration.go defaultFeatures),
# listed as enabled by its metadata API (in map order: unordered).
DEFAULT_FEATURES = frozenset({"HotReload", "WorkflowsRemoteActivityReminder"})


def _capabilities(component: Component) -> list[str]:
    """What daprd reports for the component kinds localdapr emulates."""
    if component.kind == "state":
        caps = ["ETAG", "TRANSACTIONAL", "TTL"]
        if component.type == "state.postgresql" and component.version == "v1":
            caps += ["KEYS_LIKE", "QUERY_API"]
        if component.flag("actorStateStore"):
            caps.append("ACTOR")
        return caps
    return []


class MetadataBlock(Block):
    def __init__(self, sidecar: Host, health: HealthBlock, invoke: InvokeBlock) -> None:
        super().__init__(sidecar)
        self._health = health
        self._invoke = invoke
        self.extended: dict[str, str] = {}
        self._shutdown: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._health.mark_ready()

    def http_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1.0/metadata", self._http_get),
            web.put("/v1.0/metadata/{key}", self._http_put),
            web.post("/v1.0/shutdown", self._http_shutdown),
            # Last route of the last block: requests carrying `dapr-app-id` on any other
            # path are service invocations (daprd's header form); anything else is 404.
            web.route("*", "/{tail:.*}", self._fallback),
        ]

    def dapr_methods(self) -> dict[str, Any]:
        return {"GetMetadata": self._grpc_get, "SetMetadata": self._grpc_set, "Shutdown": self._grpc_shutdown}

    # -- the document ------------------------------------------------------
    def document(self) -> dict[str, Any]:
        o = self.sidecar.options
        resources = o.resources
        components = []
        for c in resources.components_for(self.sidecar.app_id):
            entry: dict[str, Any] = {"name": c.name, "type": c.type, "version": c.version}
            if caps := _capabilities(c):  # protojson leaves an empty list out
                entry["capabilities"] = caps
            components.append(entry)
        actors = any("ACTOR" in c.get("capabilities", ()) for c in components) and o.app_port is not None
        features = (o.configuration.spec.get("features") if o.configuration else None) or []
        flags = dict.fromkeys(DEFAULT_FEATURES, True)  # a Configuration may turn them off
        flags.update({str(f["name"]): bool(f.get("enabled")) for f in features if f.get("name")})
        enabled = sorted(name for name, on in flags.items() if on)
        doc: dict[str, Any] = {
            "id": self.sidecar.app_id,
            "runtimeVersion": RUNTIME_VERSION,
            "enabledFeatures": enabled,
            "components": components,
            "resiliencies": [
                {"name": r.name} for r in resources.resiliencies if r.visible_to(self.sidecar.app_id)
            ],
            "extended": {"daprRuntimeVersion": RUNTIME_VERSION, **self.extended},
            "subscriptions": self._subscriptions(),
            "httpEndpoints": [],
            "appConnectionProperties": {"protocol": "http", "channelAddress": o.app_host},
            "actorRuntime": {
                "runtimeStatus": "RUNNING" if actors else "DISABLED",
                "hostReady": actors,
                "placement": "placement: connected" if actors else "",
            },
        }
        if o.app_port:
            doc["appConnectionProperties"]["port"] = o.app_port
        types, workers = self._workflows()
        if types:  # daprd 1.18: omitted while no worker stream is open
            doc["actorRuntime"]["activeActors"] = [{"type": t} for t in types]
            doc["workflows"] = {"connectedWorkers": workers}
        return {k: v for k, v in doc.items() if v not in ([], None)}

    def _workflows(self) -> tuple[list[str], int]:
        for block in self.sidecar.blocks:
            provider = getattr(block, "metadata_workflows", None)
            if callable(provider):
                types, workers = provider()
                return list(types), int(workers)
        return [], 0

    def _subscriptions(self) -> list[dict[str, Any]]:
        for block in self.sidecar.blocks:
            provider = getattr(block, "metadata_subscriptions", None)
            if callable(provider):
                return list(provider())
        return [
            {
                "pubsubname": s.pubsubname,
                "topic": s.topic,
                "metadata": s.metadata or None,
                "rules": [{"match": r.match, "path": r.path} for r in s.rules] or [{"path": s.route}],
                "deadLetterTopic": s.dead_letter_topic or "",
                "type": "DECLARATIVE",
            }
            for s in self.sidecar.options.resources.subscriptions_for(self.sidecar.app_id)
        ]

    # -- HTTP ----------------------------------------------------------------
    async def _http_get(self, request: web.Request) -> web.Response:
        return web.json_response(self.document())

    async def _http_put(self, request: web.Request) -> web.Response:
        self.extended[request.match_info["key"]] = await request.text()
        return web.Response(status=204)

    async def _http_shutdown(self, request: web.Request) -> web.Response:
        self.request_shutdown()
        return web.Response(status=204)

    async def _fallback(self, request: web.Request) -> web.StreamResponse:
        target = request.headers.get("dapr-app-id")
        if not target:
            raise web.HTTPNotFound()
        return await self._invoke.forward(request, target, request.raw_path.split("?", 1)[0].lstrip("/"))

    # -- gRPC ----------------------------------------------------------------
    async def _grpc_get(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.GetMetadataResponse:
        doc = self.document()
        conn = doc["appConnectionProperties"]
        return metadata_pb2.GetMetadataResponse(
            id=doc["id"],
            runtime_version=doc["runtimeVersion"],
            enabled_features=doc.get("enabledFeatures", []),
            registered_components=[metadata_pb2.RegisteredComponents(**c) for c in doc.get("components", [])],
            extended_metadata=doc["extended"],
            subscriptions=[
                metadata_pb2.PubsubSubscription(
                    pubsub_name=s["pubsubname"],
                    topic=s["topic"],
                    metadata=s.get("metadata") or {},
                    dead_letter_topic=s.get("deadLetterTopic") or "",
                    rules=metadata_pb2.PubsubSubscriptionRules(
                        rules=[metadata_pb2.PubsubSubscriptionRule(**r) for r in s.get("rules") or []]
                    ),
                    type=metadata_pb2.PubsubSubscriptionType.Value(s.get("type", "DECLARATIVE")),
                )
                for s in doc.get("subscriptions", [])
            ],
            app_connection_properties=metadata_pb2.AppConnectionProperties(
                port=conn.get("port", 0), protocol=conn["protocol"], channel_address=conn["channelAddress"]
            ),
        )

    async def _grpc_set(self, request: Any, context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
        self.extended[request.key] = request.value
        return empty_pb2.Empty()

    async def _grpc_shutdown(self, request: Any, context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
        self.request_shutdown()
        return empty_pb2.Empty()

    # -- shutdown ------------------------------------------------------------
    def request_shutdown(self) -> None:
        """Stop this sidecar after the current reply is sent, as daprd exits on /v1.0/shutdown."""
        if self._shutdown is None:
            self._shutdown = asyncio.get_running_loop().create_task(self._stop_sidecar())

    async def _stop_sidecar(self) -> None:
        await asyncio.sleep(0.1)  # let the 204 reach the caller first
        log.info("sidecar %s: shutting down on request", self.sidecar.app_id)
        await self.sidecar.shut_down()
