"""Loading an app's subscriptions: declarative resources and `GET /dapr/subscribe`.

daprd asks the app once, when its port answers; a non-200 reply or a body it
cannot read means no programmatic subscriptions. Both the v1 format (`route`)
and v2 (`routes: {rules, default}`) are accepted, as in dapr/dapr
`pkg/runtime/pubsub/subscriptions.go`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

import aiohttp

from ..config import Subscription
from .delivery import Route

if TYPE_CHECKING:
    from ..block import Host

log = logging.getLogger("localdapr.pubsub")


def from_declarative(sub: Subscription) -> Route:
    rules = tuple((r.match or "", r.path) for r in sub.rules)
    return Route(
        pubsub=sub.pubsubname,
        topic=sub.topic,
        # config.py falls back to the last rule's path when there is no default; keep only a real one.
        default_path=sub.route if not rules or sub.route != rules[-1][1] or rules[-1][0] == "" else None,
        rules=rules,
        dead_letter_topic=sub.dead_letter_topic or None,
        metadata=dict(sub.metadata),
    )


def from_app(items: Any) -> list[Route]:
    """Routes from the JSON body of `GET /dapr/subscribe`; malformed entries are skipped."""
    if not isinstance(items, list):
        log.error("/dapr/subscribe returned %s, expected a list", type(items).__name__)
        return []
    routes: list[Route] = []
    for item in items:
        if not isinstance(item, dict) or not item.get("pubsubname") or not item.get("topic"):
            log.error("ignoring malformed subscription %r", item)
            continue
        v2 = cast(dict[str, Any], item.get("routes")) if isinstance(item.get("routes"), dict) else {}
        rules = tuple(
            (str(r.get("match") or ""), str(r["path"]))
            for r in v2.get("rules") or []
            if isinstance(r, dict) and r.get("path")
        )
        default = item.get("route") or v2.get("default") or None
        metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        routes.append(
            Route(
                pubsub=str(item["pubsubname"]),
                topic=str(item["topic"]),
                default_path=str(default) if default else None,
                rules=rules,
                dead_letter_topic=str(item["deadLetterTopic"]) if item.get("deadLetterTopic") else None,
                metadata={str(k): str(v) for k, v in (metadata or {}).items()},
            )
        )
    return routes


async def fetch_programmatic(sidecar: Host) -> list[Route]:
    """Ask the app for its subscriptions, waiting until its port answers."""
    assert sidecar.http is not None and sidecar.app_base_url is not None
    url = f"{sidecar.app_base_url}/dapr/subscribe"
    delay = 0.02
    while True:
        try:
            async with sidecar.http.get(url, headers=sidecar.app_headers()) as resp:
                if resp.status != 200:
                    log.info(
                        "%s: /dapr/subscribe answered %d: no programmatic subscriptions",
                        sidecar.app_id,
                        resp.status,
                    )
                    return []
                try:
                    body = await resp.json(content_type=None)
                except ValueError as exc:
                    log.error("%s: /dapr/subscribe returned invalid JSON: %s", sidecar.app_id, exc)
                    return []
                return from_app(body)
        except (TimeoutError, aiohttp.ClientConnectionError, OSError):
            await asyncio.sleep(delay)  # the app is not listening yet
            delay = min(delay * 2, 0.5)


def merge(declarative: list[Route], programmatic: list[Route], app_id: str) -> list[Route]:
    """One route per (pubsub, topic): a second subscription to the same topic is ignored."""
    seen: dict[tuple[str, str], Route] = {}
    for route in [*declarative, *programmatic]:
        key = (route.pubsub, route.topic)
        if key in seen:
            log.warning(
                "%s: duplicate subscription to topic %s on pubsub %s ignored",
                app_id,
                route.topic,
                route.pubsub,
            )
            continue
        if any(match for match, _ in route.rules):
            log.warning(
                "%s: topic %s: routing rules with a `match` expression are not evaluated by localdapr "
                "(only rules with an empty match and the default route are used)",
                app_id,
                route.topic,
            )
        seen[key] = route
    return list(seen.values())
