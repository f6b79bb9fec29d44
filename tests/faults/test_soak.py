"""`make soak`, shortened: 45 seconds of load while random processes are `kill -9`ed.

The soak starts a stack of its own (it kills things) and ends with the audit;
its last line of output is the JSON this checks. The seed is fixed, so a
failure here replays with `python -m bench.soak --runtime R --duration 45 --seed 7`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..e2e.stack import ROOT

SEED = 7
# Each kind comes once per shuffled round, so 45 s reach most of them.
KINDS_AT_LEAST = {"localdapr": 2, "dapr": 4}


def run_soak(runtime: str, out: Path, *args: str, timeout: float = 900) -> tuple[dict[str, Any], str]:
    """The soak's final JSON line, and its output for a failure's message."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--runtime", runtime, "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"the soak printed nothing (exit {result.returncode}):\n{result.stderr[-8000:]}"
    return json.loads(lines[-1]), f"exit {result.returncode}\n{result.stdout}\n{result.stderr[-8000:]}"


def test_soak_45_seconds(runtime: str, tmp_path: Path) -> None:
    summary, output = run_soak(runtime, tmp_path, "--duration", "45", "--seed", str(SEED))
    assert summary["runtime"] == runtime and summary["seed"] == SEED
    assert summary["audit_ok"], output
    assert summary["stuck"] == 0, output
    hit = [kind for kind, n in summary["faults"].items() if n]
    assert len(hit) >= KINDS_AT_LEAST[runtime], output
    assert summary["sagas"]["completed"] > 0 and summary["sagas"]["rejected"] > 0, output
    details = json.loads((tmp_path / "soak.json").read_text())
    assert details["unplaced"] == 0 and not details["refused"], output
