"""Reading the Dapr multi-app run file (`dapr.yaml`) and Dapr resource folders.

Mirrors the Dapr CLI: paths in the run file are relative to the run file's own
folder; `common` values are defaults that each app may override; resources are
the Kubernetes-style YAML documents Dapr reads (`Component`, `Subscription`,
`Configuration`, `Resiliency`), possibly several per file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """A run file or resource that cannot be used; the message names the problem."""


@dataclass(frozen=True)
class Component:
    name: str
    type: str  # e.g. "state.postgresql", "pubsub.redis"
    version: str
    metadata: dict[str, str]
    scopes: tuple[str, ...]  # empty = visible to every app

    @property
    def kind(self) -> str:
        """The building block: "state", "pubsub", ..."""
        return self.type.split(".", 1)[0]

    def visible_to(self, app_id: str) -> bool:
        return not self.scopes or app_id in self.scopes

    def flag(self, name: str) -> bool:
        return self.metadata.get(name, "").strip().lower() in {"true", "1", "yes"}


@dataclass(frozen=True)
class RouteRule:
    match: str  # CEL expression; localdapr supports only the empty match
    path: str


@dataclass(frozen=True)
class Subscription:
    name: str
    pubsubname: str
    topic: str
    route: str  # the default route
    rules: tuple[RouteRule, ...] = ()
    dead_letter_topic: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()

    def visible_to(self, app_id: str) -> bool:
        return not self.scopes or app_id in self.scopes


@dataclass(frozen=True)
class RetryPolicy:
    """A Dapr resiliency retry policy (`policy: constant|exponential`)."""

    policy: str = "constant"
    duration: float = 1.0  # seconds between attempts (constant)
    max_interval: float = 60.0  # cap for exponential backoff
    max_retries: int = -1  # -1 = retry forever, as Dapr's default for pub/sub
    # `matching`: inclusive ranges of the status codes that may be retried; None = any code.
    http_codes: tuple[tuple[int, int], ...] | None = None
    grpc_codes: tuple[tuple[int, int], ...] | None = None

    def retries_code(self, code: int) -> bool:
        """pkg/resiliency/retry.go statusCodeNeedRetry, for a failure that carries a status
        code: 0-16 is read as a gRPC code, 100-599 as an HTTP one, anything else is final."""
        if 0 <= code <= 16:
            ranges = self.grpc_codes
        elif 100 <= code <= 599:
            ranges = self.http_codes
        else:
            return False
        return ranges is None or any(lo <= code <= hi for lo, hi in ranges)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if self.policy == "exponential":
            # Dapr's exponential backoff starts at 500ms and doubles (cenkalti/backoff defaults).
            return min(0.5 * (1.5 ** (attempt - 1)), self.max_interval)
        return self.duration

    def exhausted(self, attempt: int) -> bool:
        return self.max_retries >= 0 and attempt > self.max_retries


@dataclass(frozen=True)
class Resiliency:
    name: str
    timeouts: dict[str, float]
    retries: dict[str, RetryPolicy]
    circuit_breakers: dict[str, dict[str, Any]]
    targets: dict[str, Any]
    scopes: tuple[str, ...] = ()

    def visible_to(self, app_id: str) -> bool:
        return not self.scopes or app_id in self.scopes

    def pubsub_inbound_retry(self, pubsub: str) -> RetryPolicy | None:
        target = self.targets.get("components", {}).get(pubsub, {}).get("inbound", {})
        name = target.get("retry")
        return self.retries.get(name) if name else None

    def app_timeout(self, app_id: str) -> float | None:
        name = self.targets.get("apps", {}).get(app_id, {}).get("timeout")
        return self.timeouts.get(name) if name else None

    def app_retry(self, app_id: str) -> RetryPolicy | None:
        name = self.targets.get("apps", {}).get(app_id, {}).get("retry")
        return self.retries.get(name) if name else None


@dataclass(frozen=True)
class AccessPolicy:
    app_id: str
    default_action: str  # "allow" | "deny"
    operations: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RetentionPolicy:
    """`spec.workflow.stateRetentionPolicy` (pkg/config WorkflowStateRetentionPolicy): seconds
    after which an instance that ended with a status is purged; the status's own TTL wins over
    `anyTerminal`, no TTL keeps it."""

    any_terminal: float | None = None
    completed: float | None = None
    failed: float | None = None
    terminated: float | None = None

    def ttl(self, status: str) -> float | None:
        """`status`: "completed", "failed", "terminated" (another terminal one: anyTerminal)."""
        own = {"completed": self.completed, "failed": self.failed, "terminated": self.terminated}.get(status)
        return own if own is not None else self.any_terminal


def _ttl(key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value / 1e9  # daprd decodes it with yaml.v3 into a time.Duration: nanoseconds
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ConfigError as exc:
            raise ConfigError(f"workflow.stateRetentionPolicy.{key}: {exc}") from None
    raise ConfigError(f"workflow.stateRetentionPolicy.{key}: expected a duration such as 72h")


def _retention_policy(spec: dict[str, Any]) -> RetentionPolicy | None:
    raw = (spec.get("workflow") or {}).get("stateRetentionPolicy")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError("workflow.stateRetentionPolicy must be a mapping")
    return RetentionPolicy(
        any_terminal=_ttl("anyTerminal", raw.get("anyTerminal")),
        completed=_ttl("completed", raw.get("completed")),
        failed=_ttl("failed", raw.get("failed")),
        terminated=_ttl("terminated", raw.get("terminated")),
    )


@dataclass(frozen=True)
class Configuration:
    name: str
    spec: dict[str, Any]

    @property
    def retention_policy(self) -> RetentionPolicy | None:
        return _retention_policy(self.spec)

    @property
    def access_default(self) -> str:
        return str(self.spec.get("accessControl", {}).get("defaultAction", "allow")).lower()

    @property
    def access_policies(self) -> dict[str, AccessPolicy]:
        policies = self.spec.get("accessControl", {}).get("policies", []) or []
        return {
            p["appId"]: AccessPolicy(
                app_id=p["appId"],
                default_action=str(p.get("defaultAction", self.access_default)).lower(),
                operations=tuple(p.get("operations", []) or []),
            )
            for p in policies
        }


@dataclass
class Resources:
    components: list[Component] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    configurations: dict[str, Configuration] = field(default_factory=dict)
    resiliencies: list[Resiliency] = field(default_factory=list)

    def components_for(self, app_id: str, kind: str | None = None) -> list[Component]:
        return [c for c in self.components if c.visible_to(app_id) and (kind is None or c.kind == kind)]

    def subscriptions_for(self, app_id: str) -> list[Subscription]:
        return [s for s in self.subscriptions if s.visible_to(app_id)]

    def pubsub_retry(self, app_id: str, pubsub: str) -> RetryPolicy | None:
        for res in self.resiliencies:
            if res.visible_to(app_id) and (policy := res.pubsub_inbound_retry(pubsub)):
                return policy
        return None


@dataclass
class AppSpec:
    app_id: str
    app_dir: Path
    app_port: int | None
    command: list[str]
    env: dict[str, str]
    resources_paths: list[Path]
    config_file: Path | None
    grpc_port: int | None = None
    http_port: int | None = None
    app_protocol: str = "http"
    app_health_check_path: str = "/healthz"
    enable_app_health_check: bool = False


@dataclass
class RunFile:
    path: Path
    apps: list[AppSpec]


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(value: str | int | float) -> float:
    """Parse a Go duration such as "5s", "500ms" or "1m30s" into seconds."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ConfigError(f"invalid duration {value!r} (expected e.g. 5s, 500ms, 1m)")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


_GO_INT = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi accepts


def parse_code_ranges(text: str, low: int, high: int) -> tuple[tuple[int, int], ...] | None:
    """A retry's `matching` list ("408,429,500-599") as pkg/resiliency/retry.go parsePatterns
    reads it: "" = no filter (None), empty items are skipped, codes must lie in low..high."""
    if text == "":
        return None
    ranges: list[tuple[int, int]] = []
    for item in text.split(","):
        if not item:
            continue
        parts = item.split("-")
        if len(parts) > 2 or not all(_GO_INT.fullmatch(p) for p in parts):
            raise ConfigError(f"invalid pattern {item!r} (expected a code or a range such as 500-599)")
        start, end = int(parts[0]), int(parts[-1])
        if not (low <= start <= high and low <= end <= high):
            raise ConfigError(f"invalid pattern {item!r}: codes must be within {low}-{high}")
        if end < start:
            raise ConfigError(f"invalid pattern {item!r}: the start is bigger than the end")
        ranges.append((start, end))
    return tuple(ranges)


def _retry_policy(name: str, spec: dict[str, Any]) -> RetryPolicy:
    matching = spec.get("matching") or {}
    codes: dict[str, tuple[tuple[int, int], ...] | None] = {}
    for key, low, high in (("httpStatusCodes", 100, 599), ("gRPCStatusCodes", 0, 16)):
        value = matching.get(key, "")
        if not isinstance(value, str):
            raise ConfigError(f'retry {name!r}: matching.{key} must be a string such as "500-599"')
        try:
            codes[key] = parse_code_ranges(value, low, high)
        except ConfigError as exc:
            raise ConfigError(f"retry {name!r}: matching.{key}: {exc}") from None
    return RetryPolicy(
        policy=str(spec.get("policy", "constant")),
        duration=parse_duration(spec.get("duration", "1s")),
        max_interval=parse_duration(spec.get("maxInterval", "60s")),
        max_retries=int(spec.get("maxRetries", -1)),
        http_codes=codes["httpStatusCodes"],
        grpc_codes=codes["gRPCStatusCodes"],
    )


def _metadata_dict(items: list[dict[str, Any]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "name" not in item:
            raise ConfigError(f"metadata entry without a name: {item!r}")
        value = item.get("value", "")
        out[str(item["name"])] = "" if value is None else str(value)
    return out


def _parse_resource(doc: dict[str, Any], source: Path, into: Resources) -> None:
    kind = doc.get("kind")
    meta = doc.get("metadata") or {}
    name = meta.get("name")
    spec = doc.get("spec") or {}
    scopes = tuple(doc.get("scopes") or ())
    if not kind or not name:
        raise ConfigError(f"{source}: a resource needs 'kind' and 'metadata.name'")
    if kind == "Component":
        if "type" not in spec:
            raise ConfigError(f"{source}: component {name!r} has no spec.type")
        into.components.append(
            Component(
                name=name,
                type=spec["type"],
                version=str(spec.get("version", "v1")),
                metadata=_metadata_dict(spec.get("metadata")),
                scopes=scopes,
            )
        )
    elif kind == "Subscription":
        routes = spec.get("routes") or {}
        route = spec.get("route") or routes.get("default")
        rules = tuple(RouteRule(r.get("match", ""), r["path"]) for r in routes.get("rules", []))
        if not route and not rules:
            raise ConfigError(f"{source}: subscription {name!r} has no route")
        for required in ("pubsubname", "topic"):
            if not spec.get(required):
                raise ConfigError(f"{source}: subscription {name!r} has no spec.{required}")
        into.subscriptions.append(
            Subscription(
                name=name,
                pubsubname=spec["pubsubname"],
                topic=spec["topic"],
                route=route or rules[-1].path,
                rules=rules,
                dead_letter_topic=spec.get("deadLetterTopic"),
                metadata={str(k): str(v) for k, v in (spec.get("metadata") or {}).items()},
                scopes=scopes,
            )
        )
    elif kind == "Configuration":
        into.configurations[name] = Configuration(name=name, spec=spec)
    elif kind == "Resiliency":
        policies = spec.get("policies") or {}
        try:
            retries = {key: _retry_policy(key, p or {}) for key, p in (policies.get("retries") or {}).items()}
        except ConfigError as exc:
            # daprd logs this and skips the Resiliency; a loud start is kinder than silent retries.
            raise ConfigError(f"{source}: resiliency {name!r}: {exc}") from None
        into.resiliencies.append(
            Resiliency(
                name=name,
                timeouts={k: parse_duration(v) for k, v in (policies.get("timeouts") or {}).items()},
                retries=retries,
                circuit_breakers=dict(policies.get("circuitBreakers") or {}),
                targets=dict(spec.get("targets") or {}),
                scopes=scopes,
            )
        )
    # Other kinds (HTTPEndpoint, ...) are not used by this project and are ignored, as
    # daprd ignores kinds it does not load in self-hosted mode.


def load_resources(paths: list[Path]) -> Resources:
    resources = Resources()
    for folder in paths:
        if not folder.is_dir():
            raise ConfigError(f"resources path {folder} is not a folder")
        for file in sorted(folder.iterdir()):
            if file.suffix not in {".yaml", ".yml"}:
                continue
            try:
                docs = list(yaml.safe_load_all(file.read_text()))
            except yaml.YAMLError as exc:
                raise ConfigError(f"{file}: not valid YAML: {exc}") from None
            for doc in docs:
                if isinstance(doc, dict):
                    _parse_resource(doc, file, resources)
    names = [c.name for c in resources.components]
    if dupes := {n for n in names if names.count(n) > 1}:
        raise ConfigError(f"duplicate component names: {', '.join(sorted(dupes))}")
    return resources


def _paths(value: Any, base: Path) -> list[Path]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [(base / str(item).strip()).resolve() for item in items if str(item).strip()]


def _env(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (value or {}).items()}


def load_run_file(path: str | os.PathLike[str]) -> RunFile:
    """Read a multi-app run file; `path` may be the file or its folder (then `dapr.yaml`)."""
    file = Path(path)
    if file.is_dir():
        file = file / "dapr.yaml"
    if not file.is_file():
        raise ConfigError(f"run file {file} not found")
    try:
        doc = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    base = file.parent.resolve()
    common = doc.get("common") or {}
    apps: list[AppSpec] = []
    for raw in doc.get("apps") or []:
        if "appDirPath" not in raw:
            raise ConfigError(f"{file}: every app needs appDirPath")
        app_dir = (base / raw["appDirPath"]).resolve()
        app_id = raw.get("appID") or app_dir.name
        command = raw.get("command") or []
        if isinstance(command, str):
            raise ConfigError(f"{file}: app {app_id!r}: command must be a list of arguments")
        resources = _paths(raw.get("resourcesPaths") or raw.get("resourcesPath"), base) or _paths(
            common.get("resourcesPaths") or common.get("resourcesPath"), base
        )
        config = raw.get("configFilePath") or common.get("configFilePath")
        apps.append(
            AppSpec(
                app_id=app_id,
                app_dir=app_dir,
                app_port=int(raw["appPort"]) if raw.get("appPort") else None,
                command=[str(c) for c in command],
                env={**_env(common.get("env")), **_env(raw.get("env"))},
                resources_paths=resources,
                config_file=(base / config).resolve() if config else None,
                grpc_port=raw.get("daprGRPCPort"),
                http_port=raw.get("daprHTTPPort"),
                app_protocol=raw.get("appProtocol", common.get("appProtocol", "http")),
                app_health_check_path=raw.get("appHealthCheckPath", "/healthz"),
                enable_app_health_check=bool(raw.get("enableAppHealthCheck", False)),
            )
        )
    if not apps:
        raise ConfigError(f"{file}: no apps")
    ids = [a.app_id for a in apps]
    if dupes := {i for i in ids if ids.count(i) > 1}:
        raise ConfigError(f"{file}: duplicate app ids: {', '.join(sorted(dupes))}")
    return RunFile(path=file, apps=apps)


def load_gateway_routes(path: Path) -> dict[str, str]:
    """Read the gateway's routes: a YAML mapping of public path prefix -> app id.

    It mirrors the Kubernetes ingress (prefix match, no rewriting); it is a
    separate file because the Dapr CLI's run file has no place for it.
    """
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"gateway routes {path}: {exc}") from None
    routes = doc.get("routes") if isinstance(doc, dict) else None
    if not isinstance(routes, dict) or not routes:
        raise ConfigError(f"gateway routes {path}: expected a 'routes' mapping of /prefix: app-id")
    for prefix in routes:
        if not str(prefix).removeprefix("=").startswith("/"):
            raise ConfigError(f"gateway routes {path}: prefix {prefix!r} must start with / (or =/, exact)")
    return {_route_key(str(k)): str(v) for k, v in routes.items()}


def _route_key(key: str) -> str:
    """`=/path` (an exact path) as written; a prefix without its trailing slash."""
    return key if key.startswith("=") else key.rstrip("/") or "/"
