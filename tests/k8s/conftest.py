"""The chart rendered once per values case: the defaults and every ci/*-values.yaml."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest

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
