"""Tracing: the apps' OpenTelemetry environment points at the collector their sidecars use
(`tracing`), with the same service names (the app ids) and sampling rate."""

from __future__ import annotations

from typing import Any

from . import contract
from .conftest import CHART_DIR, rendered
from .helmtool import Manifest, render
from .test_chart_settings import APPS

OTEL = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
)


def tracing_of(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    """Per app id: its sidecar's Configuration `tracing`, and its container's OTEL_* variables."""
    configurations = {m.name: m.obj for m in manifests if m.kind == "Configuration"}
    seen: dict[str, dict[str, Any]] = {}
    for app_id, deployment in contract.dapr_deployments(manifests).items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        env = contract.env(deployment)
        seen[app_id] = {
            "sidecar": configurations[annotations["dapr.io/config"]]["spec"]["tracing"],
            "app": {k: v for k, v in env.items() if k in OTEL},
            "app_id": annotations["dapr.io/app-id"],
        }
    return seen


def test_untraced_apps_get_no_exporter() -> None:
    for app in tracing_of(rendered("default")).values():
        assert app["sidecar"] == {"samplingRate": "0"}
        assert app["app"] == {}


def test_the_apps_send_spans_to_the_sidecars_zipkin() -> None:
    traced = tracing_of(rendered("tracing-values"))
    assert sorted(traced) == list(APPS)
    for app in traced.values():
        assert app["app"] == {
            "OTEL_TRACES_EXPORTER": "zipkin",
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT": app["sidecar"]["zipkin"]["endpointAddress"],
            "OTEL_SERVICE_NAME": app["app_id"],
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": app["sidecar"]["samplingRate"],
        }


def test_an_external_zipkin_is_the_apps_collector_too() -> None:
    for app in tracing_of(rendered("external-values")).values():
        assert app["app"]["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] == (
            "http://zipkin.observability.svc.cluster.local:9411/api/v2/spans"
        )
        assert app["app"]["OTEL_TRACES_SAMPLER_ARG"] == "0.25"


def test_an_otlp_collector_takes_the_sidecars_and_the_apps_spans_instead_of_zipkin() -> None:
    values = {"tracing": {"enabled": True, "samplingRate": "0.5", "otlp": {"endpoint": "otel.obs:4318"}}}
    manifests = render(CHART_DIR, values)
    for app in tracing_of(manifests).values():
        assert app["sidecar"] == {
            "samplingRate": "0.5",
            "otel": {"endpointAddress": "otel.obs:4318", "isSecure": False, "protocol": "http"},
        }
        assert app["app"]["OTEL_TRACES_EXPORTER"] == "otlp"
        assert app["app"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel.obs:4318"
        assert "OTEL_EXPORTER_ZIPKIN_ENDPOINT" not in app["app"]
    assert not [m for m in manifests if m.name.endswith("-zipkin")], "no Zipkin of the chart's"
    secure = {"tracing": {"enabled": True, "otlp": {"endpoint": "otel.obs:4318", "secure": True}}}
    for app in tracing_of(render(CHART_DIR, secure)).values():
        assert app["sidecar"]["otel"]["isSecure"] is True
        assert app["app"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://otel.obs:4318"
