"""dapr.yaml against the multi-app run file format of the Dapr CLI, `dapr run -f` (self-hosted).

The field table below is written by hand from dapr/cli at tag v1.18.0:
  - pkg/runfileconfig/run_file_config.go: RunFileConfig (top level), Common, App, ContainerConfiguration
  - pkg/standalone/run.go: the yaml tags of RunConfig (apps only) and SharedRunConfig (common and apps)
  - pkg/runfileconfig/run_file_config_parser.go: what is required and how relative paths are resolved
The CLI decodes the file with gopkg.in/yaml.v2 `Unmarshal`, which drops unknown keys without a word
(`appId` or `appPortt` would simply be ignored), so this check is stricter than the CLI: an unknown key
is an error here. Keys are case-sensitive. The CLI accepts any `version` but 0; 1 is the only one there is.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

RUN_FILE = Path(__file__).resolve().parents[1] / "dapr.yaml"

Kind = Literal["str", "int", "bool", "list[str]", "map[str]scalar", "mapping", "list[mapping]"]

TOP_LEVEL: dict[str, Kind] = {"version": "int", "name": "str", "common": "mapping", "apps": "list[mapping]"}

# SharedRunConfig: allowed under `common` and in every app (an app's non-zero value wins over common's).
SHARED: dict[str, Kind] = {
    "configFilePath": "str",
    "appProtocol": "str",
    "apiListenAddresses": "str",
    "enableProfiling": "bool",
    "logLevel": "str",
    "appMaxConcurrency": "int",
    "placementHostAddress": "str",
    "resourcesPath": "str",
    "resourcesPaths": "list[str]",
    "appSSL": "bool",
    "maxBodySize": "str",
    "readBufferSize": "str",
    "enableAppHealthCheck": "bool",
    "appHealthCheckPath": "str",
    "appHealthProbeInterval": "int",
    "appHealthProbeTimeout": "int",
    "appHealthThreshold": "int",
    "enableApiLogging": "bool",
    "runtimePath": "str",
    "env": "map[str]scalar",
    "daprdLogDestination": "str",
    "appLogDestination": "str",
    "schedulerHostAddress": "str",
}

# RunConfig's own fields, ContainerConfiguration and App.appDirPath: only in an app (ignored under common).
APP_ONLY: dict[str, Kind] = {
    "appID": "str",
    "appChannelAddress": "str",
    "appPort": "int",
    "daprHTTPPort": "int",
    "daprGRPCPort": "int",
    "profilePort": "int",
    "command": "list[str]",
    "metricsPort": "int",
    "unixDomainSocket": "str",
    "daprInternalGRPCPort": "int",
    "containerImage": "str",
    "containerImagePullPolicy": "str",
    "createService": "bool",
    "appDirPath": "str",
}
APP: dict[str, Kind] = SHARED | APP_ONLY

CHOICES: dict[str, set[str]] = {
    "daprdLogDestination": {"console", "file", "fileAndConsole"},
    "appLogDestination": {"console", "file", "fileAndConsole"},
    "containerImagePullPolicy": {"Always", "Never", "IfNotPresent"},
}
# Paths the CLI resolves (`~/` is the home directory) and stats: under common relative to the run file's
# folder; in an app, appDirPath relative to the run file's folder and the others relative to appDirPath.
PATH_KEYS = ("configFilePath", "resourcesPath", "resourcesPaths", "runtimePath")


def type_ok(kind: Kind, value: object) -> bool:
    scalar = (str, int, float, bool)  # yaml.v2 turns any scalar into an env value's text
    match kind:
        case "str":
            return isinstance(value, str)
        case "int":
            return isinstance(value, int) and not isinstance(value, bool)
        case "bool":
            return isinstance(value, bool)
        case "list[str]":
            return isinstance(value, list) and all(isinstance(v, str) for v in value)
        case "map[str]scalar":
            return isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, scalar) for k, v in value.items()
            )
        case "mapping":
            return isinstance(value, dict)
        case "list[mapping]":
            return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def section_problems(where: str, section: dict[Any, Any], fields: dict[str, Kind]) -> list[str]:
    problems = []
    for key, value in section.items():
        if key not in fields:
            problems.append(f"{where}: unknown key {key!r}")
        elif not type_ok(fields[key], value):
            problems.append(f"{where}.{key}: expected {fields[key]}, got {value!r}")
        elif key in CHOICES and value not in CHOICES[key]:
            problems.append(f"{where}.{key}: {value!r} is not one of {sorted(CHOICES[key])}")
    return problems


def resolve(base: Path, raw: str) -> Path:
    path = Path(raw).expanduser() if raw.startswith("~/") else Path(raw)
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def path_problems(where: str, section: dict[str, Any], base: Path) -> list[str]:
    problems = []
    for key in PATH_KEYS:
        raw = section.get(key)
        for item in raw if isinstance(raw, list) else [raw]:
            if isinstance(item, str) and item and not resolve(base, item).exists():
                problems.append(f"{where}.{key}: {resolve(base, item)} does not exist")
    return problems


def run_file_problems(run_file: Any, folder: Path) -> list[str]:
    """What in `run_file` (the loaded YAML) the run file format of dapr/cli v1.18 does not allow."""
    if not isinstance(run_file, dict):
        return ["the run file is not a mapping"]
    problems = section_problems("top level", run_file, TOP_LEVEL)
    if run_file.get("version") != 1:
        problems.append(f"version: expected 1, got {run_file.get('version')!r}")
    common = run_file.get("common") or {}
    apps = run_file.get("apps") or []
    if not isinstance(common, dict) or not isinstance(apps, list) or problems:
        return problems
    problems += section_problems("common", common, SHARED) + path_problems("common", common, folder)
    if not apps:
        problems.append("apps: no apps to run")
    ids: list[str] = []
    for i, app in enumerate(apps):
        where = f"apps[{i}]"
        problems += section_problems(where, app, APP)
        app_dir = app.get("appDirPath")
        if not isinstance(app_dir, str) or not app_dir:
            problems.append(f"{where}: required key 'appDirPath' is missing")
            continue
        if not resolve(folder, app_dir).is_dir():
            problems.append(f"{where}.appDirPath: {resolve(folder, app_dir)} is not a folder")
            continue
        problems += path_problems(where, app, resolve(folder, app_dir))
        ids.append(app.get("appID") or resolve(folder, app_dir).name)  # the CLI's default id: the folder
        command = app.get("command")
        if isinstance(command, list) and (not command or not command[0].strip()):
            problems.append(f"{where}.command: no program to run")
    problems += [
        f"appID {app_id!r} is used by more than one app"
        for app_id in sorted(set(ids))
        if ids.count(app_id) > 1
    ]
    return problems


def load() -> dict[str, Any]:
    return yaml.safe_load(RUN_FILE.read_text())


def test_dapr_yaml_follows_the_cli_run_file_format() -> None:
    assert run_file_problems(load(), RUN_FILE.parent) == []


def test_every_app_is_started_by_a_command_and_the_resources_are_shared() -> None:
    run_file = load()
    assert all(isinstance(app.get("command"), list) and app["command"] for app in run_file["apps"])
    assert all((RUN_FILE.parent / p).is_dir() for p in run_file["common"]["resourcesPaths"])


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("apps", 0, "appPortt"), 8001, "apps[0]: unknown key 'appPortt'"),
        (("apps", 0, "appId"), "order", "apps[0]: unknown key 'appId'"),
        (("common", "appPort"), 8001, "common: unknown key 'appPort'"),
        (("apps", 0, "appPort"), "8001", "apps[0].appPort: expected int"),
        (("apps", 1, "command"), "python -m uvicorn", "apps[1].command: expected list[str]"),
        (("common", "env"), {"LOG_LEVEL": ["INFO"]}, "common.env: expected map[str]scalar"),
        (("apps", 0, "daprdLogDestination"), "stdout", "apps[0].daprdLogDestination: 'stdout' is not one"),
        (("version",), 2, "version: expected 1"),
        (("apps", 2, "appDirPath"), None, "apps[2]: required key 'appDirPath' is missing"),
        (("apps", 2, "appDirPath"), "./no-such-app/", "apps[2].appDirPath:"),
        (("common", "resourcesPaths"), ["./no-such-components"], "common.resourcesPaths:"),
        (("apps", 3, "appID"), "order", "appID 'order' is used by more than one app"),
    ],
)
def test_the_check_rejects_what_the_format_does_not_allow(
    path: tuple[str | int, ...], value: object, expected: str
) -> None:
    run_file = copy.deepcopy(load())
    parent: Any = run_file
    for step in path[:-1]:
        parent = parent[step]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    problems = run_file_problems(run_file, RUN_FILE.parent)
    assert any(expected in problem for problem in problems), problems
