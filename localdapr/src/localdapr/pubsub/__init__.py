"""Pub/sub building block: publish API, subscriptions and at-least-once delivery.

Every sidecar publishes into one broker shared by the process (SQLite-backed,
see `broker.py`; runtime.py creates it and hands it to each sidecar's block); each
sidecar delivers its app's consumer groups once the app answers `GET /dapr/subscribe`
(see `delivery.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..block import Block, Host
from ..config import Component, ConfigError, parse_duration
from . import subscriptions
from .api import PublishAPI
from .appchannel import AppChannel
from .broker import Broker
from .delivery import DeliveryPolicy, GroupConsumer, Route

log = logging.getLogger("localdapr.pubsub")

# Redis Streams' defaults in components-contrib (common/component/redis/redis.go): a pending
# message is reclaimed once it has been idle `processingTimeout`, checked every
# `redeliverInterval`.
DEFAULT_PROCESSING_TIMEOUT = 60.0
DEFAULT_REDELIVER_INTERVAL = 15.0


def _ms_or_duration(value: str, default: float) -> float:
    text = value.strip()
    if not text:
        return default
    if text.isdigit():
        return int(text) / 1000.0  # components-contrib reads bare numbers as milliseconds
    try:
        return parse_duration(text)
    except ConfigError:
        log.warning("ignoring invalid duration %r", value)
        return default


def nack_delay(component: Component) -> float | None:
    """When a NACKed message is redelivered; None when the component disables redelivery."""
    timeout = _ms_or_duration(component.metadata.get("processingTimeout", ""), DEFAULT_PROCESSING_TIMEOUT)
    interval = _ms_or_duration(component.metadata.get("redeliverInterval", ""), DEFAULT_REDELIVER_INTERVAL)
    if timeout <= 0 or interval <= 0:
        return None
    return max(timeout, interval)


class PubSubBlock(Block):
    def __init__(self, sidecar: Host, broker: Broker) -> None:
        super().__init__(sidecar)
        self.broker = broker  # the process's one broker
        self._api: PublishAPI | None = None
        self._consumers: list[GroupConsumer] = []
        self._loader: asyncio.Task[None] | None = None
        self._channel: AppChannel | None = None
        self._loaded: list[tuple[Route, str]] | None = None  # (route, "PROGRAMMATIC"/"DECLARATIVE")

    @property
    def api(self) -> PublishAPI:
        if self._api is None:
            self._api = PublishAPI(self.sidecar, self.broker)
        return self._api

    def dapr_methods(self) -> dict[str, Callable[..., Any]]:
        return {
            "PublishEvent": self.api.PublishEvent,
            "BulkPublishEvent": self.api.BulkPublishEvent,
            "BulkPublishEventAlpha1": self.api.BulkPublishEventAlpha1,
        }

    def http_routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1.0/publish/{pubsub}/{topic:.+}", self.api.http_publish),
            web.put("/v1.0/publish/{pubsub}/{topic:.+}", self.api.http_publish),
        ]

    def _components(self) -> dict[str, Component]:
        o = self.sidecar.options
        return {c.name: c for c in o.resources.components_for(self.sidecar.app_id, "pubsub")}

    def _declarative(self) -> list[Route]:
        o = self.sidecar.options
        return [subscriptions.from_declarative(s) for s in o.resources.subscriptions_for(self.sidecar.app_id)]

    async def start(self) -> None:
        if self.sidecar.app_base_url is None:
            return  # no app channel: nothing can be delivered (daprd skips subscriptions too)
        components = self._components()
        # Create declarative groups now, so what is published before the app is up is kept for it.
        for route in self._declarative():
            if route.pubsub in components:
                self.broker.ensure_group(route.pubsub, route.topic, self.sidecar.app_id)
        self._loader = asyncio.create_task(self._load(), name=f"pubsub subscriptions {self.sidecar.app_id}")

    async def _load(self) -> None:
        # daprd loads subscriptions (and starts delivering) once the app's port answers.
        programmatic = await subscriptions.fetch_programmatic(self.sidecar)
        routes = subscriptions.merge(self._declarative(), programmatic, self.sidecar.app_id)
        self._loaded = [
            (r, "PROGRAMMATIC" if any(r is p for p in programmatic) else "DECLARATIVE") for r in routes
        ]
        components = self._components()
        for route in routes:
            component = components.get(route.pubsub)
            if component is None:
                log.warning(
                    "%s: subscription to %s/%s: pubsub not found",
                    self.sidecar.app_id,
                    route.pubsub,
                    route.topic,
                )
                continue
            gid = self.broker.ensure_group(route.pubsub, route.topic, self.sidecar.app_id)
            if self._channel is None:
                o = self.sidecar.options
                self._channel = AppChannel(o.app_host, int(o.app_port or 0))
            consumer = GroupConsumer(
                self.sidecar, self.broker, route, gid, self._policy(component), self._channel
            )
            consumer.start()
            self._consumers.append(consumer)
            log.info(
                "%s: subscribed to %s/%s -> %s", self.sidecar.app_id, route.pubsub, route.topic, route.path()
            )

    def metadata_subscriptions(self) -> list[dict[str, Any]]:
        """The subscriptions as daprd's metadata API lists them: the declarative ones until the
        app's own are loaded; rules then the default route, empty fields left out."""
        loaded = self._loaded
        if loaded is None:
            loaded = [(r, "DECLARATIVE") for r in self._declarative()]
        out = []
        for route, kind in loaded:
            rules: list[dict[str, str]] = [
                {"match": m, "path": p} if m else {"path": p} for m, p in route.rules
            ]
            if route.default_path:
                rules.append({"path": route.default_path})
            entry: dict[str, Any] = {"pubsubname": route.pubsub, "topic": route.topic}
            if route.metadata:
                entry["metadata"] = dict(route.metadata)
            entry.update(rules=rules, deadLetterTopic=route.dead_letter_topic or "", type=kind)
            out.append(entry)
        return out

    def _policy(self, component: Component) -> DeliveryPolicy:
        resources = self.sidecar.options.resources
        app_id = self.sidecar.app_id
        timeout = None
        for res in resources.resiliencies:
            if not res.visible_to(app_id):
                continue
            inbound = res.targets.get("components", {}).get(component.name, {}).get("inbound", {})
            if (name := inbound.get("timeout")) and name in res.timeouts:
                timeout = res.timeouts[name]
                break
        return DeliveryPolicy(
            retry=resources.pubsub_retry(app_id, component.name),
            timeout=timeout,
            nack_delay=nack_delay(component),
        )

    async def stop(self) -> None:
        if self._loader:
            self._loader.cancel()
            await asyncio.gather(self._loader, return_exceptions=True)
        for consumer in self._consumers:
            await consumer.stop()
        self._consumers.clear()
        if self._channel is not None:
            self._channel.close()
