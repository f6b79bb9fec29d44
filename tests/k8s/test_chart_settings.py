"""What the chart tells Dapr, Redis and the network, read from the rendered objects:
resiliency, the app/API tokens, NetworkPolicies, Redis' memory and password, the
workflow state retention, the app health probe rule, headless Services, the cluster
domain and the readiness probes. Values daprd or Redis would refuse fail the render."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
import yaml

from . import contract
from .conftest import CHART_DIR, rendered
from .helmtool import Manifest, loadable, render, validation_errors

APPS = ("billing", "delivery", "order", "stock")


def by_name(manifests: list[Manifest], kind: str) -> dict[str, dict[str, Any]]:
    return {m.name: m.obj for m in manifests if m.kind == kind}


def render_error(values: dict[str, Any]) -> str:
    with pytest.raises(helm.HelmRenderError) as failed:
        render(CHART_DIR, values)
    return str(failed.value)


# --- 1. resiliency -------------------------------------------------------------------


def test_invocations_are_retried_only_on_transient_status_codes() -> None:
    spec = by_name(rendered("default"), "Resiliency")["order-saga"]["spec"]
    retry = spec["policies"]["retries"]["invokeRetry"]
    assert retry == {
        "policy": "constant",
        "duration": "200ms",
        "maxRetries": 3,
        "matching": {"httpStatusCodes": "408,429,500-599"},
    }
    assert spec["policies"]["timeouts"]["invoke"] == "2s"
    for app in ("billing", "stock"):
        assert spec["targets"]["apps"][app] == {
            "timeout": "invoke",
            "retry": "invokeRetry",
            "circuitBreaker": "invokeBreaker",
        }


def test_pubsub_has_a_breaker_on_publishing_only() -> None:
    """daprd keeps one breaker per component for both directions: an inbound one would
    be the publishing breaker, tripped by deliveries."""
    spec = by_name(rendered("default"), "Resiliency")["order-saga"]["spec"]
    pubsub = spec["targets"]["components"]["pubsub"]
    assert pubsub["outbound"] == {
        "timeout": "publish",
        "retry": "publishRetry",
        "circuitBreaker": "publishBreaker",
    }
    assert pubsub["inbound"] == {"timeout": "deliver", "retry": "deliveryRetry"}
    assert set(spec["policies"]["circuitBreakers"]) == {"invokeBreaker", "publishBreaker"}


def test_grpc_status_codes_may_be_matched_too() -> None:
    values = {
        "resiliency": {"policies": {"retries": {"invokeRetry": {"matching": {"gRPCStatusCodes": "1-4,14"}}}}}
    }
    manifests = render(CHART_DIR, values)
    retry = by_name(manifests, "Resiliency")["order-saga"]["spec"]["policies"]["retries"]["invokeRetry"]
    assert retry["matching"] == {"httpStatusCodes": "408,429,500-599", "gRPCStatusCodes": "1-4,14"}
    assert validation_errors(manifests) == []


def test_the_readme_says_how_daprd_keys_its_breakers() -> None:
    text = (contract.REPO / "charts" / "README.md").read_text()
    note = " ".join(text.split("- **Resiliency**", 1)[1].split("\n- **", 1)[0].split())
    assert "daprd keys an invocation breaker by `app:method path`" in note
    assert "the component's name alone, for both directions" in note
    assert "10 exponential retries and no breaker" in note
    assert "per app" not in note


# --- 2. app and API tokens -----------------------------------------------------------


def test_app_and_sidecar_share_tokens_from_generated_secrets(case: str) -> None:
    manifests = rendered(case)
    secrets = by_name(manifests, "Secret")
    tokens = {}
    for name in ("order-saga-app-token", "order-saga-dapr-api-token"):
        token = secrets[name]["stringData"]["token"]
        assert len(token) == 32 and token.isalnum(), name
        tokens[name] = token
    assert tokens["order-saga-app-token"] != tokens["order-saga-dapr-api-token"]
    for app_id, dep in contract.dapr_deployments(manifests).items():
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        assert ann["dapr.io/app-token-secret"] == "order-saga-app-token", app_id
        assert ann["dapr.io/api-token-secret"] == "order-saga-dapr-api-token", app_id
        env = {e["name"]: e for e in contract.container(dep)["env"]}
        assert env["APP_API_TOKEN"]["valueFrom"] == {
            "secretKeyRef": {"name": "order-saga-app-token", "key": "token"}
        }, app_id
        assert env["DAPR_API_TOKEN"]["valueFrom"] == {
            "secretKeyRef": {"name": "order-saga-dapr-api-token", "key": "token"}
        }, app_id


def test_the_apps_read_the_token_variables_the_chart_sets() -> None:
    helpers = contract.REPO / "dapr-helpers" / "src" / "dapr_helpers"
    assert 'os.environ.get("APP_API_TOKEN"' in (helpers / "app_token.py").read_text()
    assert "settings.DAPR_API_TOKEN" in (helpers / "client.py").read_text()


def test_tokens_are_read_back_on_upgrade() -> None:
    template = (CHART_DIR / "templates" / "api-tokens.yaml").read_text()
    assert 'include "order-saga.stablePassword"' in template
    helpers = (CHART_DIR / "templates" / "_helpers.tpl").read_text()
    assert 'lookup "v1" "Secret" .root.Release.Namespace .secret' in helpers


# --- 3. NetworkPolicies --------------------------------------------------------------


def test_each_app_accepts_only_the_ingress_controller_its_peers_sidecars_and_metrics() -> None:
    policies = by_name(rendered("default"), "NetworkPolicy")
    release_apps = {
        "matchLabels": {"app.kubernetes.io/name": "order-saga", "app.kubernetes.io/instance": "order-saga"},
        "matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "In", "values": list(APPS)}],
    }
    for app in APPS:
        spec = policies[f"order-saga-{app}"]["spec"]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == app
        assert spec["policyTypes"] == ["Ingress"]
        assert spec["ingress"] == [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
                ],
                "ports": [{"port": "http", "protocol": "TCP"}],
            },
            {"from": [{"podSelector": release_apps}], "ports": [{"port": 50002, "protocol": "TCP"}]},
            {
                "from": [{"namespaceSelector": {}}],
                # daprd's metrics, and the app's own /metrics (the pods announce it: `metrics`)
                "ports": [{"port": 9090, "protocol": "TCP"}, {"port": "http", "protocol": "TCP"}],
            },
        ]
        ports = {p["port"] for rule in spec["ingress"] for p in rule["ports"]}
        assert not ports & {3500, 50001}, "daprd's API ports listen on localhost only"


def test_databases_and_broker_accept_only_their_apps() -> None:
    policies = by_name(rendered("default"), "NetworkPolicy")
    for app in APPS:
        rule = policies[f"order-saga-{app}-db"]["spec"]["ingress"]
        assert rule == [
            {
                "from": [
                    {
                        "podSelector": {
                            "matchLabels": {
                                "app.kubernetes.io/name": "order-saga",
                                "app.kubernetes.io/instance": "order-saga",
                                "app.kubernetes.io/component": app,
                            }
                        }
                    }
                ],
                "ports": [{"port": "postgres", "protocol": "TCP"}],
            }
        ]
    redis = policies["order-saga-redis"]["spec"]["ingress"][0]
    assert redis["from"][0]["podSelector"]["matchExpressions"][0]["values"] == list(APPS)
    assert redis["ports"] == [{"port": "redis", "protocol": "TCP"}]
    external = by_name(rendered("external-values"), "NetworkPolicy")
    assert {"order-saga-redis", "order-saga-billing-db", "order-saga-stock-db"}.isdisjoint(external)


def test_network_policies_follow_their_values() -> None:
    values = {"networkPolicy": {"ingressNamespace": "traefik", "metricsNamespaces": ["monitoring"]}}
    spec = by_name(render(CHART_DIR, values), "NetworkPolicy")["order-saga-order"]["spec"]
    assert spec["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}
    ]
    assert spec["ingress"][2]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert not by_name(render(CHART_DIR, {"networkPolicy": {"enabled": False}}), "NetworkPolicy")


def test_the_readme_says_a_networkpolicy_cni_is_required() -> None:
    text = (contract.REPO / "charts" / "README.md").read_text()
    assert "enforces NetworkPolicy" in text


# --- 4. Redis ------------------------------------------------------------------------


def redis_conf(manifests: list[Manifest]) -> list[str]:
    conf = by_name(manifests, "ConfigMap")["order-saga-redis-config"]["data"]["redis.conf"]
    return [line for line in conf.splitlines() if line and not line.startswith("#")]


def test_redis_caps_its_memory_below_the_limit_and_never_evicts() -> None:
    conf = redis_conf(rendered("default"))
    assert "maxmemory 201326592" in conf  # 75% of 256Mi
    assert "maxmemory-policy noeviction" in conf
    assert "appendonly yes" in conf
    bigger = redis_conf(
        render(CHART_DIR, {"broker": {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}})
    )
    assert "maxmemory 805306368" in bigger
    given = redis_conf(render(CHART_DIR, {"broker": {"maxmemory": "180Mi"}}))
    assert f"maxmemory {180 * 1024 * 1024}" in given


@pytest.mark.parametrize("maxmemory", ["256Mi", "300Mi", "1Gi"])
def test_a_maxmemory_not_below_the_limit_fails_the_render(maxmemory: str) -> None:
    assert "must be below broker.resources.limits.memory" in render_error(
        {"broker": {"maxmemory": maxmemory}}
    )


def test_the_redis_password_is_in_a_secret_file_not_on_the_command_line() -> None:
    manifests = rendered("tracing-values")  # a fixed password: change-me-too
    sts = by_name(manifests, "StatefulSet")["order-saga-redis"]
    spec = sts["spec"]["template"]["spec"]
    redis = spec["containers"][0]
    argv = redis.get("command", []) + redis.get("args", [])
    assert argv == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    assert "change-me-too" not in yaml.safe_dump(sts)
    assert {e["name"] for e in redis["env"]} == {"REDISCLI_AUTH"}  # redis-cli's, for the probes
    assert "include /usr/local/etc/redis-auth/auth.conf" in redis_conf(manifests)
    secret = by_name(manifests, "Secret")["order-saga-redis"]["stringData"]
    assert secret["auth.conf"] == 'requirepass "change-me-too"\n'
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["auth"]["secret"] == {
        "secretName": "order-saga-redis",
        "items": [{"key": "auth.conf", "path": "auth.conf"}],
    }
    mounts = {m["name"]: m["mountPath"] for m in redis["volumeMounts"]}
    assert mounts["auth"] == "/usr/local/etc/redis-auth" and mounts["config"] == "/usr/local/etc/redis"


def test_pubsub_streams_are_trimmed_to_max_len_approx() -> None:
    pubsub = by_name(rendered("default"), "Component")["pubsub"]
    assert contract.component_metadata(pubsub)["maxLenApprox"] == "10000"
    pubsub = by_name(render(CHART_DIR, {"messaging": {"maxLenApprox": "5000"}}), "Component")["pubsub"]
    assert contract.component_metadata(pubsub)["maxLenApprox"] == "5000"


# --- 5. workflow state retention -----------------------------------------------------


def test_the_order_apps_configuration_purges_finished_workflows() -> None:
    configs = by_name(rendered("default"), "Configuration")
    assert configs["order-saga-order"]["spec"]["workflow"] == {
        "stateRetentionPolicy": {"completed": "1h", "failed": "168h", "terminated": "168h"}
    }
    for app in ("billing", "stock", "delivery"):
        assert "workflow" not in configs[f"order-saga-{app}"]["spec"], app
    values = {
        "workflow": {
            "stateRetentionPolicy": {"anyTerminal": "72h", "completed": "", "failed": "", "terminated": ""}
        }
    }
    order = by_name(render(CHART_DIR, values), "Configuration")["order-saga-order"]
    assert order["spec"]["workflow"] == {"stateRetentionPolicy": {"anyTerminal": "72h"}}
    values = {"workflow": {"stateRetentionPolicy": {"completed": "", "failed": "", "terminated": ""}}}
    assert "workflow" not in by_name(render(CHART_DIR, values), "Configuration")["order-saga-order"]["spec"]


# --- 6. the app health probe rule ----------------------------------------------------


def test_a_probe_timeout_above_the_interval_fails_the_render() -> None:
    """daprd: "value for 'health-probe-timeout' must be smaller than 'health-probe-interval'"."""
    values = {"dapr": {"appHealthCheck": {"probeIntervalSeconds": 2, "probeTimeoutMilliseconds": 2001}}}
    with loadable(CHART_DIR) as path, helm.Chart.load(path) as chart:
        chart.validate_schema(values)  # the schema alone cannot compare two values
    assert "must not exceed probeIntervalSeconds" in render_error(values)
    equal = {"dapr": {"appHealthCheck": {"probeIntervalSeconds": 2, "probeTimeoutMilliseconds": 2000}}}
    order = contract.dapr_deployments(render(CHART_DIR, equal))["order"]
    assert order["spec"]["template"]["metadata"]["annotations"]["dapr.io/app-health-probe-timeout"] == "2000"


# --- 8. headless Services and the cluster domain -------------------------------------


def test_statefulsets_are_governed_by_headless_services() -> None:
    manifests = rendered("default")
    services = by_name(manifests, "Service")
    for name, sts in by_name(manifests, "StatefulSet").items():
        governing = services[sts["spec"]["serviceName"]]
        assert sts["spec"]["serviceName"] == f"{name}-headless"
        assert governing["spec"]["clusterIP"] == "None", name
        assert governing["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"], name
        assert services[name]["spec"]["type"] == "ClusterIP", "clients keep the ClusterIP Service"


def test_the_cluster_domain_is_a_value() -> None:
    manifests = render(CHART_DIR, {"clusterDomain": "corp.example", "tracing": {"enabled": True}})
    text = yaml.safe_dump_all([m.obj for m in manifests])
    assert "cluster.local" not in text
    pubsub = by_name(manifests, "Component")["pubsub"]
    assert (
        contract.component_metadata(pubsub)["redisHost"]
        == "order-saga-redis.order-saga.svc.corp.example:6379"
    )
    secret = by_name(manifests, "Secret")["order-saga-order-db"]["stringData"]
    assert "host=order-saga-order-db.order-saga.svc.corp.example port=5432" in secret["connectionString"]
    zipkin = by_name(manifests, "Configuration")["order-saga-order"]["spec"]["tracing"]["zipkin"]
    assert (
        zipkin["endpointAddress"] == "http://order-saga-zipkin.order-saga.svc.corp.example:9411/api/v2/spans"
    )


# --- 9. readiness --------------------------------------------------------------------


def test_apps_are_ready_on_readyz_and_live_on_healthz(case: str) -> None:
    for app_id, dep in contract.dapr_deployments(rendered(case)).items():
        c = contract.container(dep)
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, app_id
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, app_id


def test_the_apps_serve_readyz() -> None:
    assert '@app.get("/readyz"' in (contract.REPO / "order-app/src/order_app/main.py").read_text()
    assert '@app.get("/readyz"' in (contract.REPO / "dapr-helpers/src/dapr_helpers/service.py").read_text()


# --- 10. the documentation -----------------------------------------------------------


@pytest.mark.parametrize("doc", ["README.md", "charts/README.md"])
def test_the_docs_install_the_tested_dapr_runtime(doc: str) -> None:
    text = (contract.REPO / doc).read_text()
    assert "dapr init -k --runtime-version 1.18.2 --wait" in text
    assert "--set dapr_sidecar_injector.sidecarDropALLCapabilities=true" in text
