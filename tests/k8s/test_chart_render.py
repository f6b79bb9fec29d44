"""The chart renders, lints and validates offline, for the defaults and every ci/*-values.yaml.

Helm itself (the helm-python-sdk wheel's libhelm_c) renders and lints; every
Kubernetes object is checked strictly against the Kubernetes schemas of two
versions (kubernetes-validate), every Dapr resource against the required fields
of Dapr's CRDs (dapr_crds.schema.json).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from . import contract
from .conftest import CASES, CHART_DIR, merged_values, rendered
from .helmtool import (
    KUBE_VERSIONS,
    REPO,
    Manifest,
    dangling_links,
    dapr_validator,
    lint,
    lint_problems,
    load_values,
    loadable,
    render,
    validation_errors,
)

POD_KINDS = ("Deployment", "StatefulSet", "Job")


def pod_spec(m: Manifest) -> dict[str, Any]:
    return m.obj["spec"]["template"]["spec"]


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_chart_lints_clean_in_strict_mode(case: str, kube_version: str) -> None:
    assert lint_problems(lint(CHART_DIR, load_values(CASES[case]), kube_version)) == []


def test_every_object_is_valid_kubernetes_or_dapr(case: str) -> None:
    manifests = rendered(case)
    assert manifests
    assert validation_errors(manifests) == []


def test_validation_covers_two_kubernetes_versions_and_the_dapr_kinds() -> None:
    assert len(set(KUBE_VERSIONS)) >= 2
    kinds = {m.kind for m in rendered("default")}
    assert {"Component", "Configuration", "Resiliency"} <= kinds


def test_kubernetes_validation_is_strict() -> None:
    deployment = copy.deepcopy(next(m for m in rendered("default") if m.kind == "Deployment"))
    deployment.obj["spec"]["replica"] = 2  # a typo a lenient check would let through
    for version in KUBE_VERSIONS:
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(deployment.obj, version, strict=True)


@pytest.mark.parametrize(
    ("kind", "mutate", "expected"),
    [
        ("Component", lambda o: o["spec"].pop("version"), "'version' is a required property"),
        ("Component", lambda o: o["spec"]["metadata"][0].pop("name"), "'name' is a required property"),
        ("Configuration", lambda o: o["spec"]["tracing"].pop("samplingRate"), "'samplingRate' is a required"),
        ("Configuration", lambda o: o["spec"]["tracing"].update(samplingRate=1), "1 is not of type 'string'"),
        ("Resiliency", lambda o: o["spec"].pop("targets"), "'targets' is a required property"),
        (
            "Resiliency",
            lambda o: o["spec"]["targets"]["apps"]["billing"].update(circuitbreaker="x"),
            "Additional properties are not allowed",
        ),
        (
            "Resiliency",
            lambda o: o["spec"]["policies"]["retries"]["invokeRetry"]["matching"].update(
                httpStatusCode="500"
            ),
            "Additional properties are not allowed",
        ),
        (
            "Configuration",
            lambda o: o["spec"].update(workflow={"stateRetentionPolicy": {"complete": "24h"}}),
            "Additional properties are not allowed",
        ),
    ],
)
def test_dapr_schema_refuses_what_the_crds_refuse(kind: str, mutate: Any, expected: str) -> None:
    obj = copy.deepcopy(next(m.obj for m in rendered("default") if m.kind == kind))
    mutate(obj)
    messages = [e.message for e in dapr_validator().iter_errors(obj)]
    assert any(expected in msg for msg in messages), messages


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"apps": {"order": {"replicas": -1}}}, "/apps/order/replicas"),
        ({"apps": {"order": {"replica": 2}}}, "additional properties 'replica' not allowed"),
        ({"apps": {"payments": {}}}, "additional properties 'payments' not allowed"),
        ({"image": {"tag": 1.2}}, "got number, want string"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"tracing": {"enabled": "yes"}}, "/tracing/enabled"),
        ({"tracing": {"samplingRate": "2"}}, "/tracing/samplingRate"),
        ({"postgres": {"external": {"billing": {"enabled": True}}}}, "missing property 'connectionString'"),
        ({"broker": {"external": {"enabled": True}}}, "/broker/external/host"),
        ({"messaging": {"topics": {}}}, "additional properties 'topics' not allowed"),
        ({"messaging": {"deadLetterSuffix": "-dlq"}}, "additional properties 'deadLetterSuffix' not allowed"),
        ({"messaging": {"maxLenApprox": 10000}}, "/messaging/maxLenApprox"),
        (
            {
                "resiliency": {
                    "policies": {"retries": {"invokeRetry": {"matching": {"httpStatusCodes": "5xx"}}}}
                }
            },
            "/resiliency/policies/retries/invokeRetry/matching/httpStatusCodes",
        ),
        (
            {
                "resiliency": {
                    "policies": {"retries": {"invokeRetry": {"matching": {"gRPCStatusCodes": "2-17"}}}}
                }
            },
            "/resiliency/policies/retries/invokeRetry/matching/gRPCStatusCodes",
        ),
        ({"broker": {"password": "two words"}}, "/broker/password"),
        ({"broker": {"maxmemory": "75%"}}, "/broker/maxmemory"),
        (
            {"workflow": {"stateRetentionPolicy": {"completed": "1 day"}}},
            "/workflow/stateRetentionPolicy/completed",
        ),
        ({"workflow": {"stateRetentionPolicy": {"succeeded": "24h"}}}, "additional properties 'succeeded'"),
        ({"networkPolicy": {"ingressNamespace": "Ingress Nginx"}}, "/networkPolicy/ingressNamespace"),
        ({"clusterDomain": "cluster.local."}, "/clusterDomain"),
        (
            {"resiliency": {"policies": {"timeouts": {"invoke": "5 seconds"}}}},
            "/resiliency/policies/timeouts/invoke",
        ),
        ({"appUid": 0}, "/appUid"),
    ],
)
def test_values_schema_refuses_a_wrong_value_with_its_path(values: dict[str, Any], expected: str) -> None:
    with (
        loadable(CHART_DIR) as path,
        helm.Chart.load(path) as chart,
        pytest.raises(helm.HelmValuesError) as refused,
    ):
        chart.validate_schema(values)
    assert expected in str(refused.value)


def test_default_install_is_the_whole_system() -> None:
    manifests = rendered("default")
    deployments = contract.dapr_deployments(manifests)
    assert sorted(deployments) == ["billing", "delivery", "order", "stock"]
    statefulsets = {m.name: m.obj for m in manifests if m.kind == "StatefulSet"}
    assert sorted(statefulsets) == [
        "order-saga-billing-db",
        "order-saga-delivery-db",
        "order-saga-order-db",
        "order-saga-redis",
        "order-saga-stock-db",
    ]
    for name, sts in statefulsets.items():
        image = sts["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.startswith("redis:" if name.endswith("redis") else "postgres:"), name
        assert sts["spec"]["volumeClaimTemplates"], f"{name} keeps no data on a PVC"
    components = {m.name: m.obj["spec"]["type"] for m in manifests if m.kind == "Component"}
    assert components == {
        "order-store": "state.postgresql",
        "billing-store": "state.postgresql",
        "stock-store": "state.postgresql",
        "delivery-store": "state.postgresql",
        "pubsub": "pubsub.redis",
    }
    assert [m.kind for m in manifests].count("Configuration") == 4
    assert [m.kind for m in manifests].count("Ingress") == 1
    assert not [m for m in manifests if m.name.endswith("-zipkin")], "tracing is off by default"
    for m in manifests:
        if m.kind == "Configuration":
            assert m.obj["spec"]["tracing"]["samplingRate"] == "0"


def test_dapr_annotations_of_every_app() -> None:
    for app_id, dep in contract.dapr_deployments(rendered("default")).items():
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        assert ann["dapr.io/app-id"] == app_id
        assert ann["dapr.io/app-protocol"] == "http"
        assert ann["dapr.io/config"] == f"order-saga-{app_id}"
        assert ann["dapr.io/enable-app-health-check"] == "true"
        assert ann["dapr.io/app-health-check-path"] == "/healthz"
        assert ann["dapr.io/app-token-secret"] == "order-saga-app-token"
        assert ann["dapr.io/api-token-secret"] == "order-saga-dapr-api-token"


def test_components_read_credentials_from_secrets_the_chart_writes() -> None:
    manifests = rendered("default")
    secrets = {m.name: m.obj for m in manifests if m.kind == "Secret"}
    for comp in (m.obj for m in manifests if m.kind == "Component"):
        assert comp["auth"] == {"secretStore": "kubernetes"}
        for item in comp["spec"]["metadata"]:
            ref = item.get("secretKeyRef")
            if ref:
                assert ref["key"] in secrets[ref["name"]]["stringData"], ref
    order_db = secrets["order-saga-order-db"]["stringData"]
    assert "host=order-saga-order-db.order-saga.svc.cluster.local port=5432" in order_db["connectionString"]
    assert f"password={order_db['password']} database=order" in order_db["connectionString"]


def test_external_values_point_at_outside_services() -> None:
    manifests = rendered("external-values")
    names = {m.name for m in manifests}
    assert {"order-saga-billing-db", "order-saga-stock-db", "order-saga-redis"}.isdisjoint(
        m.name for m in manifests if m.kind == "StatefulSet"
    )
    assert "order-saga-order-db" in names
    md = {m.name: contract.component_metadata(m.obj) for m in manifests if m.kind == "Component"}
    assert md["stock-store"]["connectionString"] == {"name": "stock-database", "key": "dsn"}
    assert md["billing-store"]["connectionString"] == {
        "name": "order-saga-billing-db",
        "key": "connectionString",
    }
    assert md["pubsub"]["redisHost"] == "redis.example.com:6380"
    assert md["pubsub"]["redisPassword"] == {"name": "redis-credentials", "key": "password"}
    assert md["pubsub"]["enableTLS"] == "true"
    deployments = contract.dapr_deployments(manifests)
    assert deployments["order"]["spec"]["replicas"] == 2
    assert contract.container(deployments["order"])["image"] == "registry.example.com/shop/order-app:1.2.3"
    assert (
        contract.container(deployments["billing"])["image"] == "registry.example.com/shop/billing-app:1.2.4"
    )
    assert contract.env(deployments["billing"])["LOG_LEVEL"] == "DEBUG"
    for m in manifests:
        if m.kind == "Configuration":
            assert m.obj["spec"]["tracing"] == {
                "samplingRate": "0.25",
                "zipkin": {
                    "endpointAddress": "http://zipkin.observability.svc.cluster.local:9411/api/v2/spans"
                },
            }
    assert not [m for m in manifests if m.name.endswith("-zipkin")]


def test_tracing_values_deploy_zipkin_and_send_spans_to_it() -> None:
    manifests = rendered("tracing-values")
    zipkin = [m for m in manifests if m.name == "order-saga-zipkin"]
    assert sorted(m.kind for m in zipkin) == ["Deployment", "Service"]
    for m in manifests:
        if m.kind == "Configuration":
            assert m.obj["spec"]["tracing"] == {
                "samplingRate": "1",
                "zipkin": {
                    "endpointAddress": "http://order-saga-zipkin.order-saga.svc.cluster.local:9411/api/v2/spans"
                },
            }
    assert not [m for m in manifests if m.kind == "Job"], "tests.enabled=false renders no helm test"


def test_containers_are_non_root_read_only_limited_and_probed(case: str) -> None:
    for m in rendered(case):
        if m.kind not in POD_KINDS:
            continue
        spec = pod_spec(m)
        for c in spec.get("initContainers", []) + spec["containers"]:
            where = f"{m}: {c['name']}"
            sc = c.get("securityContext", {})
            assert spec["securityContext"]["runAsNonRoot"] is True, where
            assert spec["securityContext"]["runAsUser"] > 0, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), where
            if m.kind != "Job" and c in spec["containers"]:
                assert "readinessProbe" in c and "livenessProbe" in c, where


# ingress-nginx's `upstream-keepalive-timeout` (its default): how long it reuses an idle
# connection to an app. The app must not close one sooner, or a request the ingress sends
# on it as the app closes it fails unanswered, and a POST is not sent again (a 502).
INGRESS_UPSTREAM_KEEPALIVE_S = 60


def test_apps_keep_idle_connections_longer_than_the_ingress() -> None:
    deployments = [m for m in rendered("default") if m.kind == "Deployment"]
    assert len(deployments) == 4
    for m in deployments:
        command = pod_spec(m)["containers"][0]["command"]
        assert "uvicorn" in command, m
        flag = "--timeout-keep-alive"
        keep_alive = int(command[command.index(flag) + 1]) if flag in command else 5  # uvicorn's default
        assert keep_alive > INGRESS_UPSTREAM_KEEPALIVE_S, m


def test_images_are_pinned(case: str) -> None:
    for m in rendered(case):
        if m.kind in POD_KINDS:
            for c in pod_spec(m)["containers"]:
                name, _, tag = c["image"].rpartition(":")
                assert name and tag and tag != "latest" and any(ch.isdigit() for ch in tag), c["image"]


def test_the_postman_collection_is_in_the_repository_and_linked_into_the_chart() -> None:
    collection = REPO / "postman" / "order-saga.postman_collection.json"
    assert collection.is_file(), "postman/order-saga.postman_collection.json is missing: helm test runs it"
    link = CHART_DIR / "files" / "order-saga.postman_collection.json"
    assert link.is_symlink() and link.resolve() == collection.resolve()
    assert dangling_links(CHART_DIR) == []


def test_helm_test_runs_the_collection_with_newman_against_the_ingress() -> None:
    manifests = rendered("default")
    configmap = next(m.obj for m in manifests if m.kind == "ConfigMap" and m.name == "order-saga-postman")
    job = next(m.obj for m in manifests if m.kind == "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert job["spec"]["backoffLimit"] == 0
    collection = REPO / "postman" / "order-saga.postman_collection.json"
    if collection.is_file():
        shipped = json.loads(configmap["data"]["order-saga.postman_collection.json"])
        assert shipped == json.loads(collection.read_text())
    spec = job["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["image"].startswith("postman/newman:")
    assert c["args"][:2] == ["run", "/etc/newman/collection/order-saga.postman_collection.json"]
    assert "baseUrl=http://arch.homework" in c["args"]
    mount = next(v for v in c["volumeMounts"] if v["name"] == "collection")
    assert mount["mountPath"] == "/etc/newman/collection"
    volume = next(v for v in spec["volumes"] if v["name"] == "collection")
    assert volume["configMap"]["name"] == "order-saga-postman"
    external = next(m.obj for m in rendered("external-values") if m.kind == "Job")
    aliases = external["spec"]["template"]["spec"]["hostAliases"]
    assert aliases == [{"ip": "10.96.0.50", "hostnames": ["arch.homework"]}]


def test_one_release_per_namespace_renders_in_any_namespace() -> None:
    manifests = render(CHART_DIR, {}, namespace="shop")
    pubsub = next(m.obj for m in manifests if m.name == "pubsub")
    assert contract.component_metadata(pubsub)["redisHost"] == "order-saga-redis.shop.svc.cluster.local:6379"
    billing = next(m.obj for m in manifests if m.kind == "Configuration" and m.name == "order-saga-billing")
    assert billing["spec"]["accessControl"]["policies"][0]["namespace"] == "shop"


def test_merged_values_keep_the_defaults_a_values_file_does_not_touch() -> None:
    assert merged_values("external-values")["apps"]["stock"]["port"] == 8003
    assert merged_values("tracing-values")["tracing"]["samplingRate"] == "1"


def test_apps_wait_for_the_charts_own_backends_before_their_sidecars_start() -> None:
    def waits(case: str) -> dict[str, list[str]]:
        found = {}
        for app_id, dep in contract.dapr_deployments(rendered(case)).items():
            init = dep["spec"]["template"]["spec"].get("initContainers", [])
            found[app_id] = init[0]["command"][3:] if init else []
        return found

    assert waits("default")["order"] == ["order-saga-order-db:5432", "order-saga-redis:6379"]
    external = waits("external-values")
    assert external["billing"] == [] and external["stock"] == []
    assert external["order"] == ["order-saga-order-db:5432"]


def test_generated_passwords_outlive_an_uninstall_like_the_volumes_they_unlock() -> None:
    for m in rendered("default"):
        component = m.obj["metadata"]["labels"]["app.kubernetes.io/component"] if m.kind == "Secret" else ""
        if component.endswith("-db") or component == "broker":
            assert m.obj["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", m
        if m.kind == "StatefulSet":
            assert m.obj["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain", m


def test_lint_reports_what_would_fail_an_install() -> None:
    problems = lint_problems(lint(CHART_DIR, {"apps": {"order": {"replicas": -1}}}))
    assert any("/apps/order/replicas" in p for p in problems), problems


def test_a_packaged_chart_carries_the_collection_itself(tmp_path: Path) -> None:
    if dangling_links(CHART_DIR):
        pytest.skip("postman/order-saga.postman_collection.json is not there yet")
    archive = helm.package(CHART_DIR, destination=tmp_path)
    with helm.Chart.load(archive) as chart:
        files = {f["name"]: f["data"] for f in chart.files}
    collection = REPO / "postman" / "order-saga.postman_collection.json"
    assert json.loads(files["files/order-saga.postman_collection.json"]) == json.loads(collection.read_text())


# The pod annotations Dapr's sidecar injector reads: the `annotation:"..."` tags of
# SidecarConfig in github.com/dapr/dapr, pkg/injector/patcher/sidecar.go (commit
# db305e804871cc90ef5fb93075cc057545378c7c; the token ones also at v1.18.2), the ones
# this chart may use. The injector
# ignores any other dapr.io/ key silently, so a typo would only show as a missing setting.
DAPR_POD_ANNOTATIONS = {
    "dapr.io/enabled",
    "dapr.io/app-id",
    "dapr.io/app-port",
    "dapr.io/app-protocol",
    "dapr.io/config",
    "dapr.io/log-level",
    "dapr.io/log-as-json",
    "dapr.io/app-max-concurrency",
    "dapr.io/enable-metrics",
    "dapr.io/metrics-port",
    "dapr.io/env",
    "dapr.io/sidecar-cpu-request",
    "dapr.io/sidecar-cpu-limit",
    "dapr.io/sidecar-memory-request",
    "dapr.io/sidecar-memory-limit",
    "dapr.io/sidecar-seccomp-profile-type",
    "dapr.io/graceful-shutdown-seconds",
    "dapr.io/block-shutdown-duration",
    "dapr.io/enable-api-logging",
    "dapr.io/enable-app-health-check",
    "dapr.io/app-health-check-path",
    "dapr.io/app-health-probe-interval",
    "dapr.io/app-health-probe-timeout",
    "dapr.io/app-health-threshold",
    "dapr.io/app-token-secret",
    "dapr.io/api-token-secret",
}


def test_every_dapr_annotation_is_one_the_injector_reads(case: str) -> None:
    for app_id, dep in contract.dapr_deployments(rendered(case)).items():
        annotations = dep["spec"]["template"]["metadata"]["annotations"]
        unknown = {k for k in annotations if k.startswith("dapr.io/")} - DAPR_POD_ANNOTATIONS
        assert not unknown, f"{app_id}: {sorted(unknown)}"
