"""The chart rendered once per values case: the defaults and every ci/*-values.yaml."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest

from .cluster import ControlPlane, missing_binaries
from .helmtool import Manifest, chart_dirs, load_values, loadable, render, values_files

CHART_DIR = next(c for c in chart_dirs() if c.name == "order-saga")
CASES: dict[str, list[Path]] = {"default": []} | {f.stem: [f] for f in values_files(CHART_DIR)}


@cache
def rendered(case: str) -> list[Manifest]:
    return render(CHART_DIR, load_values(CASES[case]))


def merge(values: dict[str, Any]) -> dict[str, Any]:
    """The values an install would use: the chart's defaults overridden by `values`."""
    with loadable(CHART_DIR) as path, helm.Chart.load(path) as chart:
        return chart.merge_values(values)


@cache
def merged_values(case: str) -> dict[str, Any]:
    return merge(load_values(CASES[case]))


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd, kube-apiserver, kube-controller-manager, Dapr's sentry, injector, operator (cluster.py)."""
    if missing := missing_binaries():
        pytest.fail(f"not built: {', '.join(missing)}: run `make k8s-control-plane` (make test does)")
    workdir = tmp_path_factory.mktemp("k8s-control-plane")
    with ControlPlane(workdir) as cp:
        yield cp
    # The logs stay with pytest's temporary folders; etcd's data (60 MB) need not.
    shutil.rmtree(workdir / "etcd", ignore_errors=True)
