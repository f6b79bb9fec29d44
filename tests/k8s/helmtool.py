"""Render, lint and validate the Helm charts offline, with Helm's own Go library.

`helm-python-sdk` bundles libhelm_c (Helm v4's SDK behind a C ABI), so no helm
binary, cluster or network is needed. Used by the tests in this folder and by
`make helm-lint` / `make helm-template` (mk/k8s.mk):

    python -m tests.k8s.helmtool lint
    python -m tests.k8s.helmtool template [-f VALUES.yaml ...] > manifests.yaml
    python -m tests.k8s.helmtool validate [-f VALUES.yaml ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
RELEASE = "order-saga"
NAMESPACE = "order-saga"
# Two Kubernetes versions the chart supports (Chart.yaml kubeVersion >=1.29):
# the oldest, and the one recent minikube releases start by default.
KUBE_VERSIONS = ("1.29", "1.34")
DAPR_SCHEMA = Path(__file__).with_name("dapr_crds.schema.json")
DAPR_API_GROUP = "dapr.io/"
# What a chart's files/ holds in place of a link whose target is not there yet
# (the Postman collection is written separately): rendering still works, and
# test_chart_render checks the real file separately.
PLACEHOLDER_COLLECTION = {
    "info": {
        "name": "placeholder",
        "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
    },
    "item": [],
}


def chart_dirs() -> list[Path]:
    return sorted(p.parent for p in CHARTS.glob("*/Chart.yaml"))


def values_files(chart: Path) -> list[Path]:
    """The chart's extra values files (chart-testing's convention: ci/*-values.yaml)."""
    return sorted((chart / "ci").glob("*-values.yaml"))


def dangling_links(chart: Path) -> list[Path]:
    return [p for p in chart.rglob("*") if p.is_symlink() and not p.exists()]


@contextlib.contextmanager
def loadable(chart: Path) -> Iterator[Path]:
    """The chart itself, or a copy whose dangling links are replaced by placeholders."""
    missing = dangling_links(chart)
    if not missing:
        yield chart
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / chart.name
        shutil.copytree(chart, copy, symlinks=True)
        for link in missing:
            target = copy / link.relative_to(chart)
            target.unlink()
            target.write_text(json.dumps(PLACEHOLDER_COLLECTION))
        yield copy


def load_values(files: list[Path] | None = None) -> dict[str, Any]:
    """Merge values files left to right, as `helm -f a -f b` does (maps deep-merged)."""
    merged: dict[str, Any] = {}
    for f in files or []:
        _deep_merge(merged, yaml.safe_load(Path(f).read_text()) or {})
    return merged


def _deep_merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


@dataclass
class Manifest:
    template: str
    obj: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} ({self.template})"


def render(
    chart: Path, values: dict[str, Any] | None = None, *, namespace: str = NAMESPACE
) -> list[Manifest]:
    """Every object an install would create, hooks (helm test) included."""
    with loadable(chart) as path, helm.Chart.load(path) as loaded:
        # Helm checks values.schema.json on install, before rendering; so do we.
        loaded.validate_schema(values or {})
        rendered = loaded.render(values or {}, name=RELEASE, namespace=namespace, is_install=True)
    manifests = []
    for template, text in sorted(rendered.items()):
        if not template.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        for doc in yaml.safe_load_all(text):
            if doc:
                manifests.append(Manifest(template, doc))
    return manifests


def template_text(chart: Path, values: dict[str, Any] | None = None) -> str:
    return "".join(
        f"---\n# Source: {m.template}\n" + yaml.safe_dump(m.obj, sort_keys=False)
        for m in render(chart, values)
    )


def lint(
    chart: Path, values: dict[str, Any] | None = None, kube_version: str | None = None
) -> dict[str, Any]:
    """`helm lint --strict` (warnings count), for a Kubernetes version such as "1.29"."""
    with loadable(chart) as path:
        return helm.lint(
            path,
            values,
            strict=True,
            namespace=NAMESPACE,
            quiet=False,
            kube_version=f"v{kube_version}.0" if kube_version else None,
        )


def lint_problems(report: dict[str, Any]) -> list[str]:
    """Errors and warnings (severity 2 and 3) of a lint report, as text."""
    found = [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= 2]
    return found + list(report.get("errors") or [])


def validate_kubernetes(manifest: Manifest, version: str) -> None:
    """Strictly against the Kubernetes schemas of `version` (unknown fields refused)."""
    kubernetes_validate.validate(manifest.obj, version, strict=True)


def dapr_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(DAPR_SCHEMA.read_text()))


def is_dapr(manifest: Manifest) -> bool:
    return manifest.obj["apiVersion"].startswith(DAPR_API_GROUP)


def validation_errors(manifests: list[Manifest]) -> list[str]:
    """Every schema problem of the rendered objects, for all KUBE_VERSIONS."""
    errors = []
    dapr = dapr_validator()
    for m in manifests:
        if is_dapr(m):
            errors += [f"{m}: {e.json_path}: {e.message}" for e in dapr.iter_errors(m.obj)]
            continue
        for version in KUBE_VERSIONS:
            try:
                validate_kubernetes(m, version)
            except kubernetes_validate.ValidationError as e:
                errors.append(f"{m} on Kubernetes {version}: {e.json_path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError:
                errors.append(f"{m}: no Kubernetes {version} schema for {m.obj['apiVersion']}")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.k8s.helmtool", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["lint", "template", "validate"])
    parser.add_argument("--chart", type=Path, default=None, help="a chart directory (default: every chart)")
    parser.add_argument("-f", "--values", type=Path, action="append", default=[], help="values file(s)")
    args = parser.parse_args(argv)
    charts = [args.chart] if args.chart else chart_dirs()
    values = load_values(args.values)
    failed = False
    for chart in charts:
        if args.command == "template":
            sys.stdout.write(template_text(chart, values))
        elif args.command == "lint":
            for version in KUBE_VERSIONS:
                problems = lint_problems(lint(chart, values, version))
                for p in problems:
                    print(f"{chart.name}: {p}", file=sys.stderr)
                print(f"{chart.name}: Kubernetes {version}: {'FAILED' if problems else 'lint ok'}")
                failed |= bool(problems)
        else:
            manifests = render(chart, values)
            errors = validation_errors(manifests)
            for e in errors:
                print(e, file=sys.stderr)
            versions = ", ".join(KUBE_VERSIONS)
            print(
                f"{chart.name}: {len(manifests)} objects, Kubernetes {versions} + Dapr CRDs: "
                + ("FAILED" if errors else "valid")
            )
            failed |= bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
