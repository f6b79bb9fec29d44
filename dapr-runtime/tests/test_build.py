"""`make dapr-runtime` on a machine that cannot build: a message that says what to install."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parents[1] / "build.sh"


def build(tmp_path: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path}
    return subprocess.run(
        ["bash", str(BUILD), str(tmp_path / "out")], env=env, capture_output=True, text=True
    )


def test_without_go_the_build_says_what_to_install(tmp_path: Path) -> None:
    if shutil.which("go", path="/usr/bin:/bin"):
        pytest.skip("this machine has Go in /usr/bin, so no PATH here lacks it")
    result = build(tmp_path, "/usr/bin:/bin")  # Go lives elsewhere (/usr/local/go, ~/go)
    assert result.returncode == 1
    assert "Go >= 1.26 is needed to build daprd 1.18.2" in result.stderr
    assert "dapr init --slim" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_older_go_is_named(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "go").write_text('#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.25.4\n')
    (fake / "go").chmod(0o755)
    result = build(tmp_path, f"{fake}:/usr/bin:/bin")
    assert result.returncode == 1
    assert "Go >= 1.26 is needed (found go1.25.4)" in result.stderr
