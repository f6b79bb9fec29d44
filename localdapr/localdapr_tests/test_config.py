"""Reading run files and resources as the Dapr CLI and daprd do (localdapr.config)."""

from __future__ import annotations

from pathlib import Path

import pytest
from localdapr.config import (
    ConfigError,
    RetryPolicy,
    load_gateway_routes,
    load_resources,
    load_run_file,
    parse_duration,
)
from localdapr.runner import load_configuration


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


RUN_FILE = """
version: 1
common:
  resourcesPath: ./components
  configFilePath: ./config.yaml
  env:
    SHARED: common
    OVERRIDDEN: common
apps:
  - appID: order
    appDirPath: ./order-app/
    appPort: 8001
    daprHTTPPort: 3501
    command: ["python", "-m", "app"]
    env:
      OVERRIDDEN: order
  - appDirPath: ./billing-app
    resourcesPaths: [./a, ./b]
"""


def test_paths_are_relative_to_the_run_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Dapr CLI resolves appDirPath, resourcesPath(s) and configFilePath from the run file's folder."""
    run_file = _write(tmp_path / "proj" / "dapr.yaml", RUN_FILE)
    monkeypatch.chdir(tmp_path)
    rf = load_run_file(run_file)
    order, billing = rf.apps
    proj = (tmp_path / "proj").resolve()
    assert order.app_dir == proj / "order-app"
    assert order.resources_paths == [proj / "components"]
    assert order.config_file == proj / "config.yaml"
    assert billing.resources_paths == [proj / "a", proj / "b"]
    assert (order.app_port, order.http_port, order.grpc_port) == (8001, 3501, None)
    assert order.command == ["python", "-m", "app"]


def test_a_folder_means_its_dapr_yaml(tmp_path: Path) -> None:
    """`dapr run -f .` reads ./dapr.yaml."""
    _write(tmp_path / "dapr.yaml", RUN_FILE)
    assert load_run_file(tmp_path).path == tmp_path / "dapr.yaml"


def test_app_env_overrides_common_env(tmp_path: Path) -> None:
    """`common.env` is the default; an app's own `env` wins key by key."""
    order, billing = load_run_file(_write(tmp_path / "dapr.yaml", RUN_FILE)).apps
    assert order.env == {"SHARED": "common", "OVERRIDDEN": "order"}
    assert billing.env == {"SHARED": "common", "OVERRIDDEN": "common"}


def test_app_id_defaults_to_the_folder_name(tmp_path: Path) -> None:
    _, billing = load_run_file(_write(tmp_path / "dapr.yaml", RUN_FILE)).apps
    assert billing.app_id == "billing-app"
    assert billing.command == []  # no command: a sidecar only


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apps: [\n  - appID: x\n", "not valid YAML"),
        ("apps: []\n", "no apps"),
        ("apps:\n  - appID: x\n", "appDirPath"),
        ("apps:\n  - {appID: x, appDirPath: ., command: python app.py}\n", "list of arguments"),
        ("apps:\n  - {appID: x, appDirPath: a}\n  - {appID: x, appDirPath: b}\n", "duplicate app ids"),
    ],
)
def test_bad_run_files_raise_config_error_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "dapr.yaml", text)
    with pytest.raises(ConfigError) as err:
        load_run_file(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_missing_run_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_run_file(tmp_path / "nope.yaml")


def test_resources_with_several_documents_per_file(tmp_path: Path) -> None:
    """daprd reads every YAML document of every file; scopes limit what an app sees."""
    _write(
        tmp_path / "res" / "all.yaml",
        """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: store}
spec:
  type: state.postgresql
  version: v1
  metadata: [{name: actorStateStore, value: "true"}]
scopes: [order]
---
kind: Component
metadata: {name: bus}
spec: {type: pubsub.redis, version: v1}
---
kind: Subscription
metadata: {name: sub}
spec: {pubsubname: bus, topic: t, routes: {default: /events}, deadLetterTopic: dead}
---
kind: Resiliency
metadata: {name: res}
spec:
  policies:
    timeouts: {short: 2s}
    retries: {three: {policy: constant, duration: 100ms, maxRetries: 3}}
  targets:
    apps: {billing: {timeout: short, retry: three}}
""",
    )
    _write(tmp_path / "res" / "notes.txt", "ignored")
    res = load_resources([tmp_path / "res"])
    assert [c.name for c in res.components_for("order")] == ["store", "bus"]
    assert [c.name for c in res.components_for("billing")] == ["bus"]
    assert res.components[0].flag("actorStateStore")
    assert res.subscriptions[0].route == "/events" and res.subscriptions[0].dead_letter_topic == "dead"
    assert res.resiliencies[0].app_timeout("billing") == 2.0
    retry = res.resiliencies[0].app_retry("billing")
    assert retry is not None and (retry.max_retries, retry.duration) == (3, 0.1)


def test_bad_resource_yaml_names_the_file(tmp_path: Path) -> None:
    bad = _write(tmp_path / "res" / "broken.yaml", "kind: Component\nmetadata: [\n")
    with pytest.raises(ConfigError) as err:
        load_resources([tmp_path / "res"])
    assert str(bad) in str(err.value)


def test_component_without_type_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "res" / "c.yaml", "kind: Component\nmetadata: {name: c}\nspec: {}\n")
    with pytest.raises(ConfigError, match=r"spec\.type"):
        load_resources([tmp_path / "res"])


def test_durations() -> None:
    assert [parse_duration(v) for v in ["5s", "500ms", "1m30s", 2]] == [5.0, 0.5, 90.0, 2.0]  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        parse_duration("soon")


def test_configuration_file(tmp_path: Path) -> None:
    """configFilePath holds a `Configuration` (daprd --config); its accessControl is kept as written."""
    path = _write(
        tmp_path / "config.yaml",
        "kind: Configuration\nmetadata: {name: appconfig}\n"
        "spec:\n  accessControl:\n    defaultAction: deny\n"
        "    policies: [{appId: order, defaultAction: allow}]\n",
    )
    config = load_configuration(path)
    assert config is not None and config.name == "appconfig"
    assert config.access_policies["order"].default_action == "allow"
    assert load_configuration(None) is None
    with pytest.raises(ConfigError):
        load_configuration(_write(tmp_path / "empty.yaml", "kind: Component\n"))


MATCHING = """
kind: Resiliency
metadata: {name: res}
spec:
  policies:
    retries:
      r:
        maxRetries: 2
        matching: {%s}
"""


@pytest.mark.parametrize(
    ("matching", "http", "grpc"),
    [
        ("", None, None),
        ('httpStatusCodes: "408,429,500-599"', ((408, 408), (429, 429), (500, 599)), None),
        ('httpStatusCodes: "+404,,", gRPCStatusCodes: "1-4"', ((404, 404),), ((1, 4),)),
        ('httpStatusCodes: ","', (), None),  # no code at all: nothing is retried
    ],
)
def test_retry_matching(tmp_path: Path, matching: str, http: object, grpc: object) -> None:
    """pkg/resiliency/retry.go parsePatterns: "" = any code, empty items skipped, Atoi's sign."""
    _write(tmp_path / "res" / "r.yaml", MATCHING % matching)
    policy = load_resources([tmp_path / "res"]).resiliencies[0].retries["r"]
    assert (policy.http_codes, policy.grpc_codes) == (http, grpc)


def test_retry_matching_decides_by_code_kind() -> None:
    """statusCodeNeedRetry: 0-16 is a gRPC code, 100-599 an HTTP one, anything else is final."""
    policy = RetryPolicy(http_codes=((500, 599),), grpc_codes=((14, 14),))
    assert [policy.retries_code(c) for c in (503, 404, 14, 2, 600, 99)] == [
        True,
        False,
        True,
        False,
        False,
        False,
    ]
    assert RetryPolicy().retries_code(404) and not RetryPolicy().retries_code(600)


@pytest.mark.parametrize(
    "matching",
    [
        'httpStatusCodes: "500-599-600"',
        'httpStatusCodes: "5xx"',
        'httpStatusCodes: "500 ,503"',
        'httpStatusCodes: "99"',
        'httpStatusCodes: "599-500"',
        'gRPCStatusCodes: "17"',
        "httpStatusCodes: 500",
    ],
)
def test_bad_retry_matching_is_a_config_error(tmp_path: Path, matching: str) -> None:
    _write(tmp_path / "res" / "r.yaml", MATCHING % matching)
    with pytest.raises(ConfigError, match=r"r\.yaml: resiliency 'res': retry 'r': matching\."):
        load_resources([tmp_path / "res"])


def test_workflow_retention_policy(tmp_path: Path) -> None:
    """pkg/config WorkflowStateRetentionPolicy: a status's own TTL, else anyTerminal, else none."""
    text = "kind: Configuration\nmetadata: {name: c}\nspec:\n  workflow:\n    stateRetentionPolicy:\n"
    config = load_configuration(
        _write(tmp_path / "c.yaml", text + "      anyTerminal: 1m\n      failed: 2s\n")
    )
    policy = config.retention_policy if config else None
    assert policy is not None
    assert [policy.ttl(s) for s in ("completed", "failed", "terminated", "canceled")] == [60, 2, 60, 60]
    config = load_configuration(_write(tmp_path / "d.yaml", text + "      completed: 0s\n"))
    policy = config.retention_policy if config else None
    assert policy is not None and (policy.ttl("completed"), policy.ttl("failed")) == (0, None)
    with pytest.raises(ConfigError, match=r"stateRetentionPolicy\.completed"):
        load_configuration(_write(tmp_path / "e.yaml", text + "      completed: soon\n"))


def test_gateway_routes(tmp_path: Path) -> None:
    routes = load_gateway_routes(
        _write(tmp_path / "g.yaml", "routes:\n  /orders/: order\n  /billing: billing\n")
    )
    assert routes == {"/orders": "order", "/billing": "billing"}
    with pytest.raises(ConfigError, match="must start with /"):
        load_gateway_routes(_write(tmp_path / "bad.yaml", "routes:\n  orders: order\n"))
    with pytest.raises(ConfigError, match=r"g2\.yaml"):
        load_gateway_routes(_write(tmp_path / "g2.yaml", "routes: [\n"))
