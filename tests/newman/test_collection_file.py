"""The committed collection is what postman/build_collection.py writes, and keeps its promises."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_collection", ROOT / "postman" / "build_collection.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def requests(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        found += requests(item["item"]) if "item" in item else [item]
    return found


def test_committed_collection_is_up_to_date() -> None:
    committed = (ROOT / "postman" / "order-saga.postman_collection.json").read_text()
    assert committed == builder().render(), "run: .venv/bin/python postman/build_collection.py"


def test_base_url_defaults_to_arch_homework_and_local_env_points_at_the_gateway() -> None:
    collection = json.loads((ROOT / "postman" / "order-saga.postman_collection.json").read_text())
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables["baseUrl"] == "http://arch.homework"
    env = json.loads((ROOT / "postman" / "local.postman_environment.json").read_text())
    assert {v["key"]: v["value"] for v in env["values"]} == {"baseUrl": "http://localhost:8080"}


def test_every_request_asserts_and_names_are_unique() -> None:
    collection = json.loads((ROOT / "postman" / "order-saga.postman_collection.json").read_text())
    items = requests(collection["item"])
    assert len({i["name"] for i in items}) == len(items)
    for item in items:
        tests = "\n".join(
            line for e in item["event"] if e["listen"] == "test" for line in e["script"]["exec"]
        )
        assert "pm.test(" in tests and "status" in tests, item["name"]
        assert item["request"]["url"].startswith("{{baseUrl}}/"), item["name"]
        assert "setTimeout" not in tests, "never sleep blindly"


@pytest.mark.skipif(shutil.which("node") is None, reason="node not found: cannot check the scripts' syntax")
def test_every_script_is_valid_javascript(tmp_path: Path) -> None:
    collection = json.loads((ROOT / "postman" / "order-saga.postman_collection.json").read_text())
    scripts = {"collection": collection["event"]} | {
        i["name"]: i["event"] for i in requests(collection["item"])
    }
    bad = []
    for name, events in scripts.items():
        for event in events:
            source = tmp_path / "script.js"
            # The sandbox runs each script as a function body.
            source.write_text("(function () {\n" + "\n".join(event["script"]["exec"]) + "\n});\n")
            check = subprocess.run(["node", "--check", str(source)], capture_output=True, text=True)
            if check.returncode:
                bad.append(f"{name} ({event['listen']}): {check.stderr.strip()}")
    assert not bad, "\n\n".join(bad)
