"""The chart installed with the real `helm` into a real kube-apiserver, with Dapr's CRDs and
sidecar injector (tests/k8s/cluster.py): what the offline render cannot show.

Pods stay Pending (no nodes), but they are the Pods a cluster would run: made by the
controller manager from the chart's Deployments and StatefulSets, mutated by Dapr's
injector, admitted (or refused) by Pod Security admission.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from .cluster import DAPR_NAMESPACE, ControlPlane, ControlPlaneError, wait_for
from .helmtool import CHARTS

CHART = CHARTS / "order-saga"
RELEASE = "order-saga"
APPS = ("order", "billing", "stock", "delivery")
DAPR_KINDS = {"Component", "Configuration", "Resiliency", "Subscription"}


def install(cp: ControlPlane, namespace: str, *args: str, create_namespace: bool = True) -> None:
    result = cp.helm(
        "install", RELEASE, str(CHART), "--namespace", namespace,
        *(["--create-namespace"] if create_namespace else []), *args,
    )  # fmt: skip
    # The API server's warnings (unknown or deprecated fields, Pod Security `warn`) reach
    # helm's stderr; helm's own note on the chart's symlinked Postman collection does too.
    warnings = [line for line in result.stderr.splitlines() if "found symbolic link in path" not in line]
    assert warnings == [], "\n".join(warnings)


def manifest(cp: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    text = cp.helm("get", "manifest", RELEASE, "--namespace", namespace).stdout
    return [d for d in yaml.safe_load_all(text) if d]


def expected_pods(objects: list[dict[str, Any]]) -> int:
    return sum(
        int(o["spec"].get("replicas", 1)) for o in objects if o["kind"] in ("Deployment", "StatefulSet")
    )


def pods(cp: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    return list(cp.get("pods", "-n", namespace)["items"])


def wait_for_pods(cp: ControlPlane, namespace: str, count: int) -> list[dict[str, Any]]:
    """The Pods the controllers made, once there are `count` of them (none being deleted)."""

    def made() -> list[dict[str, Any]] | None:
        live = [p for p in pods(cp, namespace) if "deletionTimestamp" not in p["metadata"]]
        return live if len(live) == count else None

    try:
        return wait_for(f"{count} pods in {namespace}", made, 90)
    except ControlPlaneError as e:
        raise AssertionError(f"{e}\nevents:\n{refusals(cp, namespace)}") from e


def refusals(cp: ControlPlane, namespace: str) -> str:
    """Why the controllers could not create Pods (FailedCreate events), one line each."""
    events = cp.get("events", "-n", namespace)["items"]
    return "\n".join(
        f"{e['involvedObject']['kind']}/{e['involvedObject']['name']}: {e['message']}"
        for e in events
        if e.get("reason") == "FailedCreate"
    )


def app_pod(all_pods: list[dict[str, Any]], app: str) -> dict[str, Any]:
    found = [
        p
        for p in all_pods
        if p["metadata"].get("labels", {}).get("app.kubernetes.io/component") == app
        and "dapr.io/enabled" in p["metadata"].get("annotations", {})
    ]
    assert len(found) == 1, f"{app}: {len(found)} pods"
    return found[0]


def daprd(pod: dict[str, Any]) -> dict[str, Any]:
    spec = pod["spec"]
    containers = {c["name"]: c for c in spec["containers"] + spec.get("initContainers", [])}
    assert "daprd" in containers, f"{pod['metadata']['name']}: no daprd container ({sorted(containers)})"
    return containers["daprd"]


def flags(args: list[str]) -> dict[str, str | bool]:
    """daprd's arguments: `--name value`, `--name=value` and bare `--switch`."""
    out: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            out[name] = value
        elif arg.startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--"):
            out[arg[2:]] = args[i + 1]
            i += 1
        elif arg.startswith("--"):
            out[arg[2:]] = True
        i += 1
    return out


def pruned(sent: Any, stored: Any, path: str = "spec") -> list[str]:
    """The paths of what was sent but not stored as sent."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        return [p for k, v in sent.items() for p in pruned(v, stored.get(k), f"{path}.{k}")]
    if isinstance(sent, list) and isinstance(stored, list) and len(sent) == len(stored):
        return [
            p for i, (a, b) in enumerate(zip(sent, stored, strict=True)) for p in pruned(a, b, f"{path}[{i}]")
        ]
    return [] if sent == stored else [path]


def env_secret(container: dict[str, Any], name: str) -> tuple[str, str] | None:
    for var in container.get("env", []):
        if var["name"] == name:
            ref = var.get("valueFrom", {}).get("secretKeyRef", {})
            return ref.get("name"), ref.get("key")
    return None


def values(cp: ControlPlane, namespace: str) -> dict[str, Any]:
    return dict(
        json.loads(cp.helm("get", "values", RELEASE, "--all", "-o", "json", "--namespace", namespace).stdout)
    )


def uninstall(cp: ControlPlane, namespace: str) -> None:
    cp.helm("uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout", "2m", check=False)
    cp.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


# -- the chart's defaults ------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_install(control_plane: ControlPlane) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    ns = "saga-default"
    install(control_plane, ns)
    objects = manifest(control_plane, ns)
    all_pods = wait_for_pods(control_plane, ns, expected_pods(objects))
    yield ns, all_pods
    uninstall(control_plane, ns)


def test_every_rendered_object_is_admitted(control_plane: ControlPlane, default_install: Any) -> None:
    ns, _ = default_install
    objects = manifest(control_plane, ns)
    assert len(objects) >= 30
    kinds = {o["kind"] for o in objects}
    assert {"Component", "Configuration", "Resiliency"} <= kinds, kinds
    for o in objects:
        kind = (
            o["kind"].lower() + "." + o["apiVersion"].split("/")[0]
            if "/" in o["apiVersion"]
            else o["kind"].lower()
        )
        got = control_plane.get(kind, o["metadata"]["name"], "-n", ns)
        assert got["metadata"]["name"] == o["metadata"]["name"]
        if o["kind"] in DAPR_KINDS:
            # Dapr's CRD schemas prune unknown fields silently: all that was sent was kept
            # (the schemas' defaults may add to it: Configuration's `metrics`).
            assert pruned(o["spec"], got["spec"]) == [], f"{o['kind']}/{o['metadata']['name']}"


def test_every_app_pod_has_an_injected_daprd(control_plane: ControlPlane, default_install: Any) -> None:
    ns, all_pods = default_install
    v = values(control_plane, ns)
    fullname = RELEASE
    for app in APPS:
        pod = app_pod(all_pods, app)
        # Only Pods made by a controller the injector trusts are mutated.
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        sidecar = daprd(pod)
        f = flags(sidecar["args"])
        assert f["app-id"] == app
        assert f["app-port"] == str(v["apps"][app]["port"])
        assert f["app-protocol"] == v["dapr"]["appProtocol"]
        assert f["config"] == f"{fullname}-{app}"
        assert f["mode"] == "kubernetes"
        assert f["log-level"] == v["dapr"]["logLevel"]
        assert f.get("log-as-json", False) is v["dapr"]["logAsJson"]
        assert f["enable-metrics"] is True and f["metrics-port"] == "9090"
        hc = v["dapr"]["appHealthCheck"]
        assert f["enable-app-health-check"] is True
        assert f["app-health-check-path"] == hc["path"]
        assert f["app-health-probe-interval"] == str(hc["probeIntervalSeconds"])
        assert f["app-health-probe-timeout"] == str(hc["probeTimeoutMilliseconds"])
        assert f["app-health-threshold"] == str(hc["threshold"])
        assert f["enable-mtls"] is True
        assert f["sentry-address"] == f"dapr-sentry.{DAPR_NAMESPACE}.svc.cluster.local:443"
        assert f["control-plane-address"] == f"dapr-api.{DAPR_NAMESPACE}.svc.cluster.local:443"
        # The tokens reach daprd from the chart's Secrets, never as literal values.
        assert env_secret(sidecar, "DAPR_API_TOKEN") == (f"{fullname}-dapr-api-token", "token")
        assert env_secret(sidecar, "APP_API_TOKEN") == (f"{fullname}-app-token", "token")
        res = v["dapr"]["sidecarResources"]
        assert sidecar["resources"] == {
            "requests": {"cpu": res["cpuRequest"], "memory": res["memoryRequest"]},
            "limits": {"cpu": res["cpuLimit"], "memory": res["memoryLimit"]},
        }
        sc = sidecar["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert sidecar["image"] == "ghcr.io/dapr/daprd:1.18.2"


def test_the_configuration_and_resiliency_daprd_loads_exist(
    control_plane: ControlPlane, default_install: Any
) -> None:
    ns, all_pods = default_install
    v = values(control_plane, ns)
    resiliency = control_plane.get("resiliencies.dapr.io", "-n", ns)["items"]
    assert resiliency, "no Resiliency in the namespace"
    targets = resiliency[0]["spec"]["targets"]["apps"]
    for app in APPS:
        name = flags(daprd(app_pod(all_pods, app))["args"])["config"]
        assert isinstance(name, str)
        config = control_plane.get("configurations.dapr.io", name, "-n", ns)["spec"]
        assert config["metric"] == {"enabled": True}
        assert config["tracing"]["samplingRate"] == (
            v["tracing"]["samplingRate"] if v["tracing"]["enabled"] else "0"
        )
    assert set(targets) == set(v["resiliency"]["invokeTargets"])


def test_network_policies_open_the_ports_the_injected_sidecar_uses(
    control_plane: ControlPlane, default_install: Any
) -> None:
    """templates/networkpolicy.yaml and podmonitor.yaml assume daprd's ports and listen
    addresses; these are the ones the injector actually gave it."""
    ns, all_pods = default_install
    for app in APPS:
        sidecar = daprd(app_pod(all_pods, app))
        f = flags(sidecar["args"])
        policy = control_plane.get("networkpolicy", f"{RELEASE}-{app}", "-n", ns)["spec"]
        opened = {p["port"] for rule in policy["ingress"] for p in rule.get("ports", [])}
        # Sidecar to sidecar (invocation, workflow actors) and Prometheus: open.
        assert int(str(f["dapr-internal-grpc-port"])) in opened
        assert int(str(f["metrics-port"])) in opened
        # daprd's HTTP and gRPC APIs listen on localhost only: they need no rule.
        assert f["dapr-listen-addresses"] == "[::1],127.0.0.1"
        assert {"name": "dapr-metrics", "containerPort": 9090, "protocol": "TCP"} in sidecar["ports"]


def test_the_operator_announces_each_sidecars_metrics(
    control_plane: ControlPlane, default_install: Any
) -> None:
    """templates/apps.yaml leaves daprd's metrics to the `{app id}-dapr` Service that Dapr's
    operator makes for every Dapr-enabled Deployment: it exists, announcing port 9090."""
    ns, _ = default_install

    def services() -> dict[str, Any] | None:
        found = {s["metadata"]["name"]: s for s in control_plane.get("services", "-n", ns)["items"]}
        return found if all(f"{app}-dapr" in found for app in APPS) else None

    found = wait_for("the operator's {app id}-dapr Services", services, 60)
    for app in APPS:
        service = found[f"{app}-dapr"]
        annotations = service["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true"
        assert annotations.get("prometheus.io/port") == "9090"
        assert {p["port"] for p in service["spec"]["ports"]} >= {50002, 9090}


def test_statefulset_pods_are_not_injected(control_plane: ControlPlane, default_install: Any) -> None:
    _, all_pods = default_install
    backends = [p for p in all_pods if p["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"]
    assert backends
    for pod in backends:
        assert "daprd" not in {c["name"] for c in pod["spec"]["containers"]}, pod["metadata"]["name"]


@pytest.mark.parametrize("values_file", sorted(p.name for p in (CHART / "ci").glob("*-values.yaml")))
def test_ci_values_are_admitted_and_injected(control_plane: ControlPlane, values_file: str) -> None:
    """Each ci/*-values.yaml installed: every object admitted, every app replica injected."""
    ns = "saga-" + values_file.removesuffix("-values.yaml")
    install(control_plane, ns, "-f", str(CHART / "ci" / values_file))
    try:
        objects = manifest(control_plane, ns)
        for o in objects:
            group = o["apiVersion"].split("/")[0] if "/" in o["apiVersion"] else ""
            control_plane.get(f"{o['kind'].lower()}.{group}".rstrip("."), o["metadata"]["name"], "-n", ns)
        all_pods = wait_for_pods(control_plane, ns, expected_pods(objects))
        v = values(control_plane, ns)
        for app in APPS:
            replicas = [
                p
                for p in all_pods
                if p["metadata"].get("labels", {}).get("app.kubernetes.io/component") == app
                and "dapr.io/enabled" in p["metadata"].get("annotations", {})
            ]
            assert len(replicas) == v["apps"][app]["replicas"], app
            for pod in replicas:
                f = flags(daprd(pod)["args"])
                assert (f["app-id"], f["config"]) == (app, f"{RELEASE}-{app}")
            config = control_plane.get("configurations.dapr.io", f"{RELEASE}-{app}", "-n", ns)["spec"]
            expected_rate = v["tracing"]["samplingRate"] if v["tracing"]["enabled"] else "0"
            assert config["tracing"]["samplingRate"] == expected_rate
            if v["tracing"]["enabled"] and not v["tracing"]["otlp"]["endpoint"]:
                zipkin = config["tracing"]["zipkin"]["endpointAddress"]
                if v["tracing"]["zipkin"]["endpoint"]:
                    assert zipkin == v["tracing"]["zipkin"]["endpoint"]
                else:  # the chart's own Zipkin: its Service, by the name daprd resolves
                    host = f"{RELEASE}-zipkin.{ns}.svc.{v['clusterDomain']}"
                    assert zipkin == f"http://{host}:9411/api/v2/spans"
                    control_plane.get("service", f"{RELEASE}-zipkin", "-n", ns)
    finally:
        uninstall(control_plane, ns)


# -- upgrade, rollback, uninstall ------------------------------------------------------------


def test_upgrade_then_rollback(control_plane: ControlPlane) -> None:
    ns = "saga-upgrade"
    install(control_plane, ns)
    try:
        count = expected_pods(manifest(control_plane, ns))
        wait_for_pods(control_plane, ns, count)
        upgrade = ("upgrade", RELEASE, str(CHART), "--namespace", ns, "--reuse-values")
        control_plane.helm(*upgrade, "--set", "dapr.logLevel=debug")
        # Without nodes nothing becomes ready, so a rollout keeps the old Pod beside the new
        # one (maxUnavailable): look at the newest ReplicaSets' Pods.
        wait_for("debug sidecars after upgrade", lambda: _new_pods_have(control_plane, ns, "debug"), 90)
        control_plane.helm("rollback", RELEASE, "1", "--namespace", ns)
        wait_for("info sidecars after rollback", lambda: _new_pods_have(control_plane, ns, "info"), 90)
        history = json.loads(control_plane.helm("history", RELEASE, "--namespace", ns, "-o", "json").stdout)
        assert [h["status"] for h in history] == ["superseded", "superseded", "deployed"]
        assert values(control_plane, ns)["dapr"]["logLevel"] == "info"
    finally:
        uninstall(control_plane, ns)


def _new_pods_have(cp: ControlPlane, namespace: str, level: str) -> bool:
    """Every app's newest ReplicaSet has a Pod whose daprd logs at `level`."""
    rs = cp.get("replicasets", "-n", namespace)["items"]
    live = [p for p in pods(cp, namespace) if "deletionTimestamp" not in p["metadata"]]
    for app in APPS:
        mine = [r for r in rs if r["metadata"].get("labels", {}).get("app.kubernetes.io/component") == app]
        newest = max(
            mine, key=lambda r: int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
        )
        hash_ = newest["metadata"]["labels"]["pod-template-hash"]
        owned = [p for p in live if p["metadata"].get("labels", {}).get("pod-template-hash") == hash_]
        if not owned or flags(daprd(owned[0])["args"])["log-level"] != level:
            return False
    return True


def test_uninstall_leaves_only_the_data_it_documents(control_plane: ControlPlane) -> None:
    """`helm uninstall` removes everything but what charts/README.md says it keeps: the
    StatefulSets' volumes (whenDeleted: Retain) and the Secrets with their passwords
    (helm.sh/resource-policy: keep). Deleting the namespace then removes those too."""
    ns = "saga-uninstall"
    install(control_plane, ns)
    objects = manifest(control_plane, ns)
    wait_for_pods(control_plane, ns, expected_pods(objects))
    kept = {
        f"secret/{o['metadata']['name']}"
        for o in objects
        if o["kind"] == "Secret"
        and o["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep"
    } | {
        f"persistentvolumeclaim/{t['metadata']['name']}-{o['metadata']['name']}-{i}"
        for o in objects
        if o["kind"] == "StatefulSet"
        for t in o["spec"].get("volumeClaimTemplates", [])
        for i in range(int(o["spec"].get("replicas", 1)))
    }
    assert kept
    control_plane.helm("uninstall", RELEASE, "--namespace", ns, "--wait", "--timeout", "2m")

    def leftovers() -> set[str]:
        text = control_plane.kubectl(
            "get", "all,configmaps,secrets,serviceaccounts,pvc,networkpolicies,ingresses,"
            "components.dapr.io,configurations.dapr.io,resiliencies.dapr.io,roles,rolebindings",
            "-n", ns, "-o", "name",
        ).stdout  # fmt: skip
        # What Kubernetes itself puts in every namespace.
        return set(text.split()) - {"configmap/kube-root-ca.crt", "serviceaccount/default"}

    try:
        assert wait_for("only the kept objects", lambda: leftovers() == kept or None, 90)
    finally:
        control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)

    def namespace_gone() -> bool:
        return control_plane.kubectl("get", "namespace", ns, check=False).returncode != 0

    wait_for("the namespace deleted", namespace_gone, 120)


def test_the_real_helm_lints_the_chart_strictly(control_plane: ControlPlane) -> None:
    """helm v3.19.0's own `lint --strict`, beside the helm-python-sdk (Helm 4 SDK) lint offline."""
    for extra in [[], *(["-f", str(f)] for f in sorted((CHART / "ci").glob("*-values.yaml")))]:
        result = control_plane.helm("lint", "--strict", str(CHART), *extra)
        assert "0 chart(s) failed" in result.stdout, result.stdout


# -- values.schema.json ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        (["--set", "ingress.host=null"], "missing property 'host'"),
        (["--set", "ingress.host="], "/ingress/host"),
        (["--set", "dapr.logLevel=verbose"], "logLevel"),
        (["--set", "apps.order.port=http"], "port"),
    ],
)
def test_bad_values_are_refused_before_anything_is_applied(
    control_plane: ControlPlane, setting: list[str], named: str
) -> None:
    ns = "saga-bad-values"
    result = control_plane.helm(
        "install", RELEASE, str(CHART), "--namespace", ns, "--create-namespace", *setting, check=False
    )
    try:
        assert result.returncode != 0
        assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
        assert named in result.stderr, result.stderr
        # Refused before anything was applied: not even the namespace.
        assert control_plane.kubectl("get", "namespace", ns, check=False).returncode != 0
    finally:
        control_plane.kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=false", check=False)


# -- Pod Security: restricted ----------------------------------------------------------------


def restricted_namespace(cp: ControlPlane, ns: str) -> None:
    """What a user does for a `restricted` namespace: create and label it before installing."""
    cp.kubectl("create", "namespace", ns)
    cp.kubectl(
        "label", "namespace", ns,
        "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/enforce-version=v1.34",
    )  # fmt: skip


def test_restricted_refuses_the_sidecar_of_dapr_defaults(control_plane: ControlPlane) -> None:
    """Dapr's chart defaults leave daprd's capabilities alone (sidecarDropALLCapabilities:
    false), and there is no annotation to drop them: Pod Security refuses every app Pod."""
    ns = "saga-restricted-defaults"
    restricted_namespace(control_plane, ns)
    try:
        install(control_plane, ns, create_namespace=False)

        def refused() -> set[str] | None:
            text = refusals(control_plane, ns)
            apps = {a for a in APPS if f"ReplicaSet/{RELEASE}-{a}-" in text}
            return apps if apps == set(APPS) else None

        wait_for("every app's ReplicaSet refused", refused, 60)
        marker = 'violates PodSecurity "restricted:v1.34": '
        violations = {
            line.split(marker, 1)[1] for line in refusals(control_plane, ns).splitlines() if marker in line
        }
        # daprd's capabilities are the only violation: the chart's own containers comply.
        assert violations == {
            'unrestricted capabilities (container "daprd" must set securityContext.capabilities.drop=["ALL"])'
        }
        # The chart's own Pods (Postgres, Redis, no sidecar) are admitted.
        assert all(
            p["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet" for p in pods(control_plane, ns)
        )
        assert pods(control_plane, ns)
    finally:
        uninstall(control_plane, ns)


def test_restricted_admits_every_pod_with_dapr_dropping_all_capabilities(control_plane: ControlPlane) -> None:
    """With Dapr installed `--set dapr_sidecar_injector.sidecarDropALLCapabilities=true`
    (charts/README.md), every Pod is admitted under `restricted`, sidecars included."""
    ns = "saga-restricted"
    control_plane.reconfigure_dapr("dapr_sidecar_injector.sidecarDropALLCapabilities=true")
    restricted_namespace(control_plane, ns)
    try:
        install(control_plane, ns, create_namespace=False)
        all_pods = wait_for_pods(control_plane, ns, expected_pods(manifest(control_plane, ns)))
        assert refusals(control_plane, ns) == ""
        for app in APPS:
            sidecar = daprd(app_pod(all_pods, app))
            assert sidecar["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    finally:
        uninstall(control_plane, ns)
        control_plane.reconfigure_dapr("dapr_sidecar_injector.sidecarDropALLCapabilities=false")
