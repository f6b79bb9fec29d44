"""The run's copy of the resources folders, pointed at this run's Postgres and Redis.

`components/` name `localhost:5432` and `localhost:6379`, as `dapr init` and a
local Postgres would have them. A run here starts its own servers on free ports,
so each copy gets those ports; nothing else in the resources changes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml


def with_connection(conn: str, host: str, port: int) -> str:
    """A libpq key=value connection string with host and port replaced (added if absent)."""
    parts = [p for p in conn.split() if not p.startswith(("host=", "port="))]
    return " ".join([f"host={host}", f"port={port}", *parts])


def _point(doc: dict[str, Any], pg_port: int, redis_port: int) -> dict[str, Any]:
    if doc.get("kind") != "Component":
        return doc
    kind = str(doc.get("spec", {}).get("type", ""))
    for item in doc["spec"].get("metadata") or []:
        if kind.startswith("state.postgres") and item.get("name") == "connectionString":
            item["value"] = with_connection(str(item["value"]), "127.0.0.1", pg_port)
        if kind.startswith(("pubsub.redis", "state.redis")) and item.get("name") == "redisHost":
            item["value"] = f"127.0.0.1:{redis_port}"
    return doc


def databases(folders: list[Path]) -> set[str]:
    """The Postgres databases the state stores of these folders name."""
    names: set[str] = set()
    for doc in _documents(folders):
        if doc.get("kind") == "Component" and str(doc["spec"].get("type", "")).startswith("state.postgres"):
            for item in doc["spec"].get("metadata") or []:
                if item.get("name") == "connectionString":
                    names |= {
                        p.split("=", 1)[1] for p in str(item["value"]).split() if p.startswith("database=")
                    }
    return names


def _documents(folders: list[Path]) -> list[dict[str, Any]]:
    docs = []
    for folder in folders:
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return docs


def prepare(folders: list[Path], target: Path, pg_port: int, redis_port: int) -> Path:
    """Copy every resource of `folders` into `target`, pointed at this run's servers."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for i, folder in enumerate(folders):
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            docs = [_point(d, pg_port, redis_port) for d in yaml.safe_load_all(path.read_text()) if d]
            (target / f"{i}-{path.name}").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return target


def with_own_name_resolution(config: Path, target: Path, names: Path) -> Path:
    """A copy of the Configuration `config` whose sidecars find each other in their own SQLite
    file, unless it chooses a name resolver itself.

    Self-hosted daprd resolves app ids with mDNS by default, which every run on the machine
    shares: two runs with an app `billing` (a test's stack beside `make run-dapr`, or two
    stacks of one test session) would call each other's apps. The `sqlite` resolver is
    daprd's own alternative for one machine, and one file per run keeps runs apart.
    """
    docs = [d for d in yaml.safe_load_all(config.read_text()) if d]
    for doc in docs:
        if doc.get("kind") == "Configuration":
            spec = doc.get("spec") or {}
            doc["spec"] = spec
            spec.setdefault(
                "nameResolution",
                {"component": "sqlite", "version": "v1", "configuration": {"connectionString": str(names)}},
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return target
