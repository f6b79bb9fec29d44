"""Each app's route table, read from its own factory, split into public and internal routes."""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from fastapi.routing import iter_route_contexts

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class AppRoute:
    app_id: str
    method: str
    path: str  # path parameters filled in, so it can be requested
    query: tuple[tuple[str, str], ...] = ()  # required query parameters, filled in likewise

    def __str__(self) -> str:
        return f"{self.app_id} {self.method} {self.path}"


def gateway_routes() -> dict[str, str]:
    """Public prefix -> app id, as the gateway (and the ingress) route them; `=/path` is that path alone."""
    return {str(k): str(v) for k, v in yaml.safe_load((ROOT / "gateway.yaml").read_text())["routes"].items()}


def public_paths() -> dict[str, list[str]]:
    """app id -> every prefix (and exact path) routed to it."""
    found: dict[str, list[str]] = {}
    for prefix, app_id in gateway_routes().items():
        found.setdefault(app_id, []).append(prefix)
    return found


def public_prefixes() -> dict[str, str]:
    """app id -> its API's prefix: the first prefix gateway.yaml routes to it."""
    return {
        app_id: next(p for p in paths if not p.startswith("=")) for app_id, paths in public_paths().items()
    }


def factories() -> dict[str, str]:
    """app id -> `module:create_app`, from the run file every launcher uses."""
    run = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    return {a["appID"]: a["command"][a["command"].index("--factory") + 1] for a in run["apps"]}


def is_public(path: str, prefix: str) -> bool:
    """Whether an ingress rule `prefix` (pathType Prefix: whole segments; `=/path`: Exact) routes `path`."""
    if prefix.startswith("="):
        return path == prefix[1:]
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


@cache
def app_routes(app_id: str) -> tuple[AppRoute, ...]:
    """Every route `create_app()` serves (docs and OpenAPI included), one per method."""
    module, factory = factories()[app_id].split(":")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:  # the factory configures the root logger; keep pytest's
        app = getattr(importlib.import_module(module), factory)()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    found = []
    # Flattened: FastAPI keeps an included router as one entry of `app.routes`.
    for route in iter_route_contexts(app.routes):
        if route.path is None:  # a mount or websocket route: none today
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        methods = sorted((getattr(route, "methods", None) or {"GET"}) - {"HEAD"})
        params = getattr(getattr(route, "dependant", None), "query_params", [])
        query = tuple((q.alias, "1") for q in params if q.field_info.is_required())
        found += [AppRoute(app_id, method, path, query) for method in methods]
    return tuple(found)


def _routed(route: AppRoute, paths: dict[str, list[str]]) -> bool:
    return any(is_public(route.path, p) for p in paths[route.app_id])


def internal_routes() -> list[AppRoute]:
    paths = public_paths()
    return [r for a in factories() for r in app_routes(a) if not _routed(r, paths)]


def public_routes() -> list[AppRoute]:
    paths = public_paths()
    return [r for a in factories() for r in app_routes(a) if _routed(r, paths)]
