"""What the chart must agree with, read from the files that define it.

- app ids, ports and start commands: dapr.yaml (the multi-app run file)
- state stores and pub/sub (names, types, scopes, metadata): components/*.yaml
- topics, their publishers and subscribers, who reads dead letters: docs/messaging.md
- resiliency policies and targets: components/resiliency.yaml
- public prefixes: gateway.yaml
- what the apps themselves name (topics, stores, app ids they call): */src/

Each `*_problems` function compares one of them with a rendered chart and returns
the disagreements as text, so a test can show them all at once and a test can
also prove that a renamed component or topic is caught.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .helmtool import REPO, Manifest

DEAD_LETTER = "{topic}-dead"  # docs/messaging.md: deadLetterTopic: {topic}-dead
# Component metadata that says where a backend is and how to log in: the chart's differs
# from components/ (the cluster's Services and Secrets); every other item must agree.
CONNECTION_METADATA = frozenset({"connectionString", "redisHost", "redisPassword"})


@dataclass(frozen=True)
class RunApp:
    app_id: str
    folder: str
    port: int
    command: tuple[str, ...]

    @property
    def module(self) -> str:
        factory = self.command[self.command.index("--factory") + 1]
        return factory.split(".", 1)[0]


def run_file_apps(path: Path = REPO / "dapr.yaml") -> dict[str, RunApp]:
    run = yaml.safe_load(path.read_text())
    apps = {}
    for app in run["apps"]:
        folder = app["appDirPath"].strip("./").rstrip("/")
        apps[app["appID"]] = RunApp(app["appID"], folder, int(app["appPort"]), tuple(app["command"]))
    return apps


def gateway_routes(path: Path = REPO / "gateway.yaml") -> dict[str, str]:
    return dict(yaml.safe_load(path.read_text())["routes"])


def local_components(folder: Path = REPO / "components") -> dict[str, dict[str, Any]]:
    """kind/name -> the resource, for every file in components/."""
    found = {}
    for f in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if doc:
                found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


@dataclass(frozen=True)
class Topic:
    name: str
    publishers: frozenset[str]
    subscribers: frozenset[str]


def documented_topics(path: Path = REPO / "docs" / "messaging.md") -> dict[str, Topic]:
    """The `## Topics` table: | `topic` | publisher(s) | subscriber(s) | carries |."""
    section = path.read_text().split("## Topics", 1)[1].split("\n## ", 1)[0]
    topics = {}
    for line in section.splitlines():
        m = re.match(r"^\|\s*`([a-z0-9-]+)`\s*\|([^|]*)\|([^|]*)\|", line)
        if m:
            pubs = frozenset(p.strip() for p in m.group(2).split(",") if p.strip())
            subs = frozenset(s.strip() for s in m.group(3).split(",") if s.strip())
            topics[m.group(1)] = Topic(m.group(1), pubs, subs)
    return topics


def documented_dead_letter_readers(path: Path = REPO / "docs" / "messaging.md") -> dict[str, str]:
    """Dead-letter topic -> the app that subscribes to it: "**`{topic}-dead` is read by the {app} app.**"."""
    section = path.read_text().split("## Topics", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"`([a-z0-9-]+-dead)` is read by the ([a-z]+) app", section)
    return dict(found)


def app_sources(folder: str) -> list[Path]:
    return sorted((REPO / folder / "src").rglob("*.py"))


def string_literals(paths: Iterable[Path], pattern: str) -> set[str]:
    """Every string constant in the Python files that matches `pattern` as a whole, except
    the value of a `*KEY*` constant (a state key such as "dead-replies" is not a topic)."""
    found = set()
    for p in paths:
        tree = ast.parse(p.read_text(), filename=str(p))
        keys = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name) and "KEY" in target.id.upper()
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in keys
                and re.fullmatch(pattern, node.value)
            ):
                found.add(node.value)
    return found


# --- the rendered chart ------------------------------------------------------------


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m.kind == kind]


def dapr_deployments(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    """app id -> Deployment, for every Deployment with a Dapr sidecar."""
    found = {}
    for m in of_kind(manifests, "Deployment"):
        ann = m.obj["spec"]["template"]["metadata"].get("annotations") or {}
        if ann.get("dapr.io/enabled") == "true":
            found[ann["dapr.io/app-id"]] = m.obj
    return found


def component_metadata(component: dict[str, Any]) -> dict[str, Any]:
    """name -> value (or the secretKeyRef) of a Dapr component's metadata."""
    return {i["name"]: i.get("value", i.get("secretKeyRef")) for i in component["spec"]["metadata"]}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def env(deployment: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container(deployment).get("env", [])}


def _with_host(command: Iterable[str], host: str) -> tuple[str, ...]:
    args = list(command)
    if "--host" in args:
        args[args.index("--host") + 1] = host
    return tuple(args)


# --- the checks --------------------------------------------------------------------


def apps_problems(manifests: list[Manifest]) -> list[str]:
    """App ids, ports, start commands and health checks agree with dapr.yaml."""
    problems = []
    run = run_file_apps()
    deployed = dapr_deployments(manifests)
    if set(deployed) != set(run):
        problems.append(f"app ids: chart {sorted(deployed)} != dapr.yaml {sorted(run)}")
    for app_id, app in run.items():
        dep = deployed.get(app_id)
        if dep is None:
            continue
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        if ann.get("dapr.io/app-port") != str(app.port):
            problems.append(f"{app_id}: dapr.io/app-port {ann.get('dapr.io/app-port')} != {app.port}")
        ports = [p["containerPort"] for p in container(dep).get("ports", [])]
        if ports != [app.port]:
            problems.append(f"{app_id}: containerPort {ports} != [{app.port}]")
        command = _with_host(container(dep).get("command", []), "*")
        if command != _with_host(app.command, "*"):
            problems.append(f"{app_id}: command {command} != dapr.yaml {app.command} (host aside)")
        if env(dep).get("APP_PORT") != str(app.port):
            problems.append(f"{app_id}: APP_PORT {env(dep).get('APP_PORT')} != {app.port}")
        image = container(dep)["image"]
        if f"/{app.folder}:" not in image:
            problems.append(f"{app_id}: image {image} is not the {app.folder} image")
    return problems


def components_problems(manifests: list[Manifest]) -> list[str]:
    """Every local component exists in the chart with the same name, type, version,
    scopes and (non-connection) metadata; the apps are pointed at them."""
    problems = []
    local = {k: v for k, v in local_components().items() if k.startswith("Component/")}
    charted = {f"Component/{m.name}": m.obj for m in of_kind(manifests, "Component")}
    if set(local) != set(charted):
        problems.append(f"components: chart {sorted(charted)} != components/ {sorted(local)}")
    for key, want in local.items():
        got = charted.get(key)
        if got is None:
            continue
        for field in ("type", "version"):
            if got["spec"][field] != want["spec"][field]:
                problems.append(f"{key}: spec.{field} {got['spec'][field]!r} != {want['spec'][field]!r}")
        if sorted(got.get("scopes", [])) != sorted(want.get("scopes", [])):
            problems.append(f"{key}: scopes {got.get('scopes')} != {want.get('scopes')}")
        want_md, got_md = component_metadata(want), component_metadata(got)
        for name in sorted((set(want_md) | {"tableName", "actorStateStore"}) - CONNECTION_METADATA):
            if want_md.get(name) != got_md.get(name):
                problems.append(f"{key}: metadata {name} {got_md.get(name)!r} != {want_md.get(name)!r}")
        for name, value in got_md.items():
            if re.search(r"password|connectionString", name, re.I) and not (
                isinstance(value, dict) and {"name", "key"} <= set(value)
            ):
                problems.append(f"{key}: {name} is not a secretKeyRef")
    deployed = dapr_deployments(manifests)
    stores = {
        m.obj["scopes"][0]: m.name
        for m in of_kind(manifests, "Component")
        if m.obj["spec"]["type"].startswith("state.")
    }
    pubsubs = {m.name for m in of_kind(manifests, "Component") if m.obj["spec"]["type"].startswith("pubsub.")}
    for app_id, dep in deployed.items():
        if env(dep).get("STATE_STORE") != stores.get(app_id):
            problems.append(
                f"{app_id}: STATE_STORE {env(dep).get('STATE_STORE')!r} != its store {stores.get(app_id)!r}"
            )
        if env(dep).get("PUBSUB_NAME") not in pubsubs:
            problems.append(
                f"{app_id}: PUBSUB_NAME {env(dep).get('PUBSUB_NAME')!r} is not a pub/sub component"
            )
    actor_stores = [k for k, v in charted.items() if component_metadata(v).get("actorStateStore") == "true"]
    if len(actor_stores) != 1:
        problems.append(f"exactly one actor state store expected, got {actor_stores}")
    return problems


def app_source_problems(run: dict[str, RunApp] | None = None) -> list[str]:
    """The apps' own code names only its own state store (read with the chart's names by
    the caller) and only documented topics; each subscriber names its topic."""
    problems = []
    run = run or run_file_apps()
    topics = documented_topics()
    known = set(topics) | {DEAD_LETTER.format(topic=t) for t in topics}
    stores = {
        c["scopes"][0]: c["metadata"]["name"]
        for c in local_components().values()
        if c["kind"] == "Component" and c["spec"]["type"].startswith("state.")
    }
    for app_id, app in run.items():
        sources = app_sources(app.folder)
        if not sources:
            continue  # not written yet
        for t in sorted(
            string_literals(sources, r"[a-z]+-(commands?|repl(y|ies)|events?|topic)(-dead)?") - known
        ):
            problems.append(f"{app.folder}/src names topic {t!r}, which docs/messaging.md does not define")
        for s in sorted(string_literals(sources, r"[a-z]+-store") - {stores.get(app_id)}):
            problems.append(f"{app.folder}/src names state store {s!r}, not its own {stores.get(app_id)!r}")
        text = "\n".join(p.read_text() for p in sources)
        for topic in topics.values():
            if app_id in topic.subscribers and topic.name not in text:
                problems.append(f"{app.folder}/src never names {topic.name!r}, which it subscribes to")
    return problems


def topics_problems(manifests: list[Manifest], values: dict[str, Any]) -> list[str]:
    """The pub/sub component's scoping is docs/messaging.md's table, exactly: each app may
    publish its topics and the dead letters of the topics it subscribes to (its sidecar
    writes them), and subscribe to its topics and the dead letters it reads."""
    problems: list[str] = []
    topics = documented_topics()
    if not topics:
        return ["no topics found in docs/messaging.md"]
    pubsub = next(
        (m.obj for m in of_kind(manifests, "Component") if m.name == values["messaging"]["pubsubName"]), None
    )
    if pubsub is None:
        return [f"no pub/sub component {values['messaging']['pubsubName']!r}"]
    if not values["messaging"]["scopeTopics"]:
        return problems
    md = component_metadata(pubsub)
    allowed = set(filter(None, md.get("allowedTopics", "").split(",")))
    want_allowed = set(topics) | {DEAD_LETTER.format(topic=t) for t in topics}
    if allowed != want_allowed:
        problems.append(f"allowedTopics {sorted(allowed)} != docs/messaging.md {sorted(want_allowed)}")
    readers = documented_dead_letter_readers()
    for scope_key in ("publishingScopes", "subscriptionScopes"):
        scopes = _scopes(md.get(scope_key, ""))
        for app in run_file_apps():
            if scope_key == "publishingScopes":
                want = {t.name for t in topics.values() if app in t.publishers} | {
                    DEAD_LETTER.format(topic=t.name) for t in topics.values() if app in t.subscribers
                }
            else:
                want = {t.name for t in topics.values() if app in t.subscribers} | {
                    dead for dead, reader in readers.items() if reader == app
                }
            got = scopes.get(app)
            if got != want:
                problems.append(f"{scope_key}: {app} may use {sorted(got or [])}, docs say {sorted(want)}")
    return problems


def _scopes(text: str) -> dict[str, set[str]]:
    """'a=t1,t2;b=' -> {'a': {'t1', 't2'}, 'b': set()} (Dapr's pub/sub scoping syntax)."""
    out = {}
    for part in filter(None, text.split(";")):
        app, _, topics = part.partition("=")
        out[app] = set(filter(None, topics.split(",")))
    return out


def resiliency_problems(manifests: list[Manifest]) -> list[str]:
    """Targets name real apps and components, policies exist, and every local target is covered."""
    problems = []
    resiliencies = of_kind(manifests, "Resiliency")
    if len(resiliencies) != 1:
        return [f"one Resiliency expected, got {len(resiliencies)}"]
    spec = resiliencies[0].obj["spec"]
    apps = set(dapr_deployments(manifests))
    components = {m.name for m in of_kind(manifests, "Component")}
    policies = spec["policies"]
    kinds = {"timeout": "timeouts", "retry": "retries", "circuitBreaker": "circuitBreakers"}

    def check(where: str, target: dict[str, str]) -> None:
        for field, policy in target.items():
            if policy not in policies.get(kinds[field], {}):
                problems.append(f"{where}: {field} {policy!r} is not a defined policy")

    for app, target in spec["targets"].get("apps", {}).items():
        if app not in apps:
            problems.append(f"resiliency target app {app!r} is not deployed")
        check(f"apps.{app}", target)
        if set(target) != set(kinds):
            problems.append(
                f"apps.{app}: needs a timeout, a retry and a circuit breaker, has {sorted(target)}"
            )
    for comp, directions in spec["targets"].get("components", {}).items():
        if comp not in components:
            problems.append(f"resiliency target component {comp!r} does not exist")
        for direction, target in directions.items():
            check(f"components.{comp}.{direction}", target)
        if set(directions) != {"inbound", "outbound"}:
            problems.append(f"components.{comp}: needs inbound and outbound, has {sorted(directions)}")
    local = next(v for k, v in local_components().items() if k.startswith("Resiliency/"))
    for app in local["spec"]["targets"].get("apps", {}):
        if app not in spec["targets"].get("apps", {}):
            problems.append(f"components/resiliency.yaml covers app {app!r}; the chart does not")
    for comp, directions in local["spec"]["targets"].get("components", {}).items():
        for direction in directions:
            if direction not in spec["targets"].get("components", {}).get(comp, {}):
                problems.append(f"components/resiliency.yaml covers {comp}.{direction}; the chart does not")
    scopes = set(resiliencies[0].obj.get("scopes", []))
    if scopes and scopes != apps:
        problems.append(f"resiliency scopes {sorted(scopes)} != apps {sorted(apps)}")
    for path in _differences(spec["policies"], local["spec"]["policies"], "spec.policies") + _differences(
        spec["targets"], local["spec"]["targets"], "spec.targets"
    ):
        problems.append(f"resiliency {path} differs from components/resiliency.yaml")
    return problems


def _differences(got: Any, want: Any, path: str) -> list[str]:
    """The paths at which two parsed YAML documents differ (a missing key counts)."""
    if isinstance(got, dict) and isinstance(want, dict):
        found = []
        for key in sorted(set(got) | set(want)):
            found += _differences(got.get(key), want.get(key), f"{path}.{key}")
        return found
    return [] if got == want else [f"{path} ({got!r} != {want!r})"]


def ingress_problems(manifests: list[Manifest], host: str = "arch.homework") -> list[str]:
    """The Ingress routes exactly gateway.yaml's prefixes to the apps' Services, unrewritten."""
    problems = []
    ingresses = of_kind(manifests, "Ingress")
    if len(ingresses) != 1:
        return [f"one Ingress expected, got {len(ingresses)}"]
    ing = ingresses[0].obj
    for key in ing["metadata"].get("annotations") or {}:
        if "rewrite" in key:
            problems.append(f"ingress annotation {key} rewrites paths")
    services = {}
    for m in of_kind(manifests, "Service"):
        component = m.obj["spec"]["selector"].get("app.kubernetes.io/component")
        services[m.name] = component
    rules = ing["spec"]["rules"]
    if [r.get("host") for r in rules] != [host]:
        problems.append(f"ingress hosts {[r.get('host') for r in rules]} != [{host!r}]")
    routed = {}
    for rule in rules:
        for path in rule["http"]["paths"]:
            # gateway.yaml writes an Exact path `=/path`; every other path is a Prefix
            key = f"={path['path']}" if path["pathType"] == "Exact" else path["path"]
            if path["pathType"] not in ("Prefix", "Exact"):
                problems.append(f"{path['path']}: pathType {path['pathType']} (Prefix or Exact expected)")
            svc = path["backend"]["service"]["name"]
            routed[key] = services.get(svc, f"<no Service {svc}>")
    if routed != gateway_routes():
        problems.append(f"ingress routes {routed} != gateway.yaml {gateway_routes()}")
    return problems


def invoked_apps(app: RunApp) -> set[str]:
    """The app ids an app's code calls by service invocation (its `*_app_id` settings)."""
    found = set()
    for p in app_sources(app.folder):
        for m in re.finditer(r"""(\w+)_app_id\s*:\s*str\s*=\s*["']([a-z0-9-]+)["']""", p.read_text()):
            found.add(m.group(2))
    return found - {app.app_id}


def access_control_problems(manifests: list[Manifest]) -> list[str]:
    """Each app's Configuration denies by default and allows exactly the apps whose code calls it."""
    problems = []
    run = run_file_apps()
    configs = {m.name: m.obj for m in of_kind(manifests, "Configuration")}
    callers: dict[str, set[str]] = {app_id: set() for app_id in run}
    for app in run.values():
        for callee in invoked_apps(app):
            callers.setdefault(callee, set()).add(app.app_id)
    for app_id, dep in dapr_deployments(manifests).items():
        name = dep["spec"]["template"]["metadata"]["annotations"].get("dapr.io/config")
        config = configs.get(name)
        if config is None:
            problems.append(f"{app_id}: dapr.io/config {name!r} is not a rendered Configuration")
            continue
        acl = config["spec"].get("accessControl")
        if acl is None:
            continue  # access control turned off in these values
        if acl.get("defaultAction") != "deny":
            problems.append(
                f"{app_id}: accessControl.defaultAction {acl.get('defaultAction')!r} (deny expected)"
            )
        allowed = {p["appId"] for p in acl.get("policies") or [] if p.get("defaultAction") == "allow"}
        if allowed != callers.get(app_id, set()):
            problems.append(
                f"{app_id}: may be invoked by {sorted(allowed)}, but its callers in the code are "
                f"{sorted(callers.get(app_id, set()))}"
            )
    return problems
