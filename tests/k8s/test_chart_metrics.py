"""Prometheus can scrape the apps' /metrics and daprd's: pod annotations by default, a
PodMonitor behind `metrics.podMonitor.enabled`, and NetworkPolicies that let the metrics
namespaces in on both ports."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
from dapr_helpers.metrics import METRICS_PATH

from . import contract
from .conftest import CHART_DIR, rendered
from .helmtool import REPO, Manifest, lint, lint_problems, loadable, render

MONITOR = {"metrics": {"podMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "kps"}}}}


def pod_annotations(manifests: list[Manifest]) -> dict[str, dict[str, str]]:
    deployments = contract.dapr_deployments(manifests)
    return {app_id: dep["spec"]["template"]["metadata"]["annotations"] for app_id, dep in deployments.items()}


def metrics_rule(manifests: list[Manifest], app_id: str) -> dict[str, Any]:
    [policy] = [m.obj for m in manifests if m.kind == "NetworkPolicy" and m.name == f"order-saga-{app_id}"]
    [rule] = [r for r in policy["spec"]["ingress"] if {"port": 9090, "protocol": "TCP"} in r["ports"]]
    return rule


def test_every_app_pod_announces_its_own_metrics_by_default(case: str) -> None:
    run_file = contract.run_file_apps()
    annotations = pod_annotations(rendered(case))
    assert set(annotations) == set(run_file)
    for app_id, ann in annotations.items():
        assert ann["prometheus.io/scrape"] == "true"
        assert ann["prometheus.io/port"] == str(run_file[app_id].port)
        assert ann["prometheus.io/path"] == METRICS_PATH  # what dapr_helpers serves
    assert not [m for m in rendered(case) if m.kind == "PodMonitor"], "off by default: it needs the CRD"


def test_the_metrics_namespaces_reach_daprd_and_the_apps_metrics() -> None:
    for app_id in contract.run_file_apps():
        assert metrics_rule(rendered("default"), app_id)["ports"] == [
            {"port": 9090, "protocol": "TCP"},
            {"port": "http", "protocol": "TCP"},
        ]
    values = {"networkPolicy": {"metricsNamespaces": ["monitoring"]}}
    rule = metrics_rule(render(CHART_DIR, values), "order")
    monitoring = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    assert rule["from"] == [{"namespaceSelector": monitoring}]


def test_without_announced_app_metrics_only_daprd_is_reachable_and_nothing_is_annotated() -> None:
    manifests = render(CHART_DIR, {"metrics": {"podAnnotations": False}})
    for ann in pod_annotations(manifests).values():
        assert not [k for k in ann if k.startswith("prometheus.io/")]
    assert metrics_rule(manifests, "stock")["ports"] == [{"port": 9090, "protocol": "TCP"}]


def test_the_pod_monitor_scrapes_each_app_and_its_sidecar() -> None:
    manifests = render(CHART_DIR, MONITOR)
    [monitor] = [m.obj for m in manifests if m.kind == "PodMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kps"
    endpoints = {(e["port"], e["path"], e["interval"]) for e in monitor["spec"]["podMetricsEndpoints"]}
    # `dapr-metrics`: the name the Dapr injector gives daprd's metrics port (9090).
    assert endpoints == {("http", METRICS_PATH, "15s"), ("dapr-metrics", "/", "15s")}
    # Its selector picks exactly the four apps' pods, each of which names its port `http`.
    selector = monitor["spec"]["selector"]
    for dep in contract.dapr_deployments(manifests).values():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert selector["matchLabels"].items() <= labels.items()
        [expr] = selector["matchExpressions"]
        assert labels[expr["key"]] in expr["values"]
        [container] = dep["spec"]["template"]["spec"]["containers"]
        assert [p["name"] for p in container["ports"]] == ["http"]
    assert sorted(selector["matchExpressions"][0]["values"]) == sorted(contract.run_file_apps())


def test_the_pod_monitor_alone_still_lets_the_metrics_namespaces_reach_the_apps() -> None:
    values = {"metrics": {"podAnnotations": False, "podMonitor": {"enabled": True}}}
    assert {"port": "http", "protocol": "TCP"} in metrics_rule(render(CHART_DIR, values), "order")["ports"]


def test_the_chart_lints_clean_with_the_pod_monitor() -> None:
    assert lint_problems(lint(CHART_DIR, MONITOR)) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"metrics": {"podAnnotations": "yes"}}, "/metrics/podAnnotations"),
        ({"metrics": {"podMonitor": {"interval": "30 seconds"}}}, "/metrics/podMonitor/interval"),
        ({"metrics": {"podMonitor": {"interval": "1.5s"}}}, "/metrics/podMonitor/interval"),
        ({"metrics": {"podMonitor": {"labels": {"release": 1}}}}, "/metrics/podMonitor/labels/release"),
        ({"metrics": {"serviceMonitor": {}}}, "additional properties 'serviceMonitor' not allowed"),
    ],
)
def test_values_schema_refuses_a_wrong_metrics_value(values: dict[str, Any], expected: str) -> None:
    with (
        loadable(CHART_DIR) as path,
        helm.Chart.load(path) as chart,
        pytest.raises(helm.HelmValuesError) as refused,
    ):
        chart.validate_schema(values)
    assert expected in str(refused.value)


def test_the_readme_says_what_is_scraped_and_who_may() -> None:
    text = (REPO / "charts" / "README.md").read_text()
    for needed in ("metrics.podMonitor.enabled", "metricsNamespaces", "saga_commands_total", "dapr-metrics"):
        assert needed in text, needed
