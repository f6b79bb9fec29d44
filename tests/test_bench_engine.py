"""`make bench-engine` on real daprd, small enough to run in seconds: every shape's workflows
complete, the floor's Dapr calls reach its participant, and the CPU of every process of the
runtime is counted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import selected_runtimes
from tests.e2e.stack import ROOT

if str(ROOT) not in sys.path:  # `bench` is run from the repository's root (python -m bench.engine_cost)
    sys.path.insert(0, str(ROOT))

from bench.engine_cost import measure

pytestmark = pytest.mark.skipif("dapr" not in selected_runtimes(), reason="SAGA_RUNTIMES leaves out dapr")


def test_every_shape_completes_and_every_process_is_counted(tmp_path: Path) -> None:
    results = measure(tmp_path, workflows=6, clients=3, rounds=1)
    assert [(r["shape"], r["workflows"]) for r in results] == [
        ("replies", 6),
        ("activities", 6),
        ("floor", 6),
    ]
    for r in results:
        assert set(r["cpu_ms_by_process"]) == {
            "postgres",
            "redis",
            "placement",
            "scheduler",
            "daprd engine",
            "daprd peer",
            "peer app",
            "python (worker + clients)",
        }, r
        # The sidecar ran every turn: its CPU cannot be zero, nor the total below it.
        assert r["cpu_ms_by_process"]["daprd engine"] > 0, r
        assert r["cpu_ms_per_workflow"] >= r["cpu_ms_by_process"]["daprd engine"], r
        assert r["p50_ms"] <= r["p95_ms"], r
    # A floor workflow completes only if each of its commands was written by the participant
    # (its activities raise on any failed call), so the participant's processes did work.
    floor = results[-1]["cpu_ms_by_process"]
    assert floor["daprd peer"] > 0 and floor["peer app"] > 0, floor
