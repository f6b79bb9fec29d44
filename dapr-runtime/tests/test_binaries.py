"""Which daprd a run uses: an installed 1.18 first (as the Dapr CLI finds it), else the project's build."""

from __future__ import annotations

from pathlib import Path

import pytest
from dapr_runtime.binaries import PROJECT_RUNTIME, RuntimeMissing, find_runtime


def install(root: Path, version: str) -> Path:
    """What `dapr init --slim` leaves: .dapr/bin/{daprd,placement,scheduler}."""
    bin_dir = root / ".dapr" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("daprd", "placement", "scheduler"):
        (bin_dir / name).write_text(f"#!/bin/sh\necho {version}\n")
        (bin_dir / name).chmod(0o755)
    return root / ".dapr"


def test_an_installed_1_18_in_dapr_runtime_path_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAPR_RUNTIME_PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    root = install(tmp_path, "1.18.0")
    runtime = find_runtime()
    assert (runtime.root, runtime.version) == (root, "1.18.0")


def test_another_minor_version_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAPR_RUNTIME_PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    install(tmp_path, "1.17.4")
    with pytest.raises(RuntimeMissing, match="make dapr-runtime"):
        find_runtime(include_project=False)
    if (PROJECT_RUNTIME / "bin" / "daprd").is_file():  # built by `make test`: that one, then
        assert find_runtime().root == PROJECT_RUNTIME
