"""Where the real Dapr runtime is: an installed 1.18 (`dapr init --slim`) or the project's own build.

The Dapr CLI looks for `<R>/.dapr/bin/daprd`, where R is `$DAPR_RUNTIME_PATH` or
`$HOME`; `dapr init --slim` puts placement and scheduler beside it. Any 1.18 is
accepted there. Otherwise `make dapr-runtime` builds 1.18.2 into
`dapr-runtime/.dapr`, laid out the same way.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

VERSION = "1.18.2"
SERIES = "1.18."
PROJECT_RUNTIME = Path(__file__).resolve().parents[2] / ".dapr"
BINARIES = ("daprd", "placement", "scheduler")


class RuntimeMissing(Exception):
    """No usable daprd 1.18: the message says what to install."""


@dataclass(frozen=True)
class Runtime:
    root: Path  # the `.dapr` folder: bin/, config.yaml, components/
    version: str

    def bin(self, name: str) -> Path:
        return self.root / "bin" / name

    @property
    def default_config(self) -> Path:
        return self.root / "config.yaml"


def daprd_version(daprd: Path) -> str | None:
    try:
        out = subprocess.run([daprd, "--version"], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[-1].strip() if out.stdout.strip() else None


def installed_roots() -> list[Path]:
    """Where a user's own Dapr install would be, in the CLI's order."""
    roots = []
    if env := os.environ.get("DAPR_RUNTIME_PATH"):
        roots.append(Path(env) / ".dapr")
    roots.append(Path.home() / ".dapr")
    return roots


def usable(root: Path) -> Runtime | None:
    if not all((root / "bin" / name).is_file() for name in BINARIES):
        return None
    version = daprd_version(root / "bin" / "daprd")
    if version is None or not version.startswith(SERIES):
        return None
    return Runtime(root, version)


def find_runtime(include_project: bool = True) -> Runtime:
    candidates = installed_roots() + ([PROJECT_RUNTIME] if include_project else [])
    for root in candidates:
        if runtime := usable(root):
            return runtime
    raise RuntimeMissing(
        f"no daprd {SERIES}x found in {', '.join(str(c) for c in candidates)}: run `make dapr-runtime` "
        "(needs Go >= 1.26 and the Go module proxy), or install Dapr 1.18 with `dapr init --slim` "
        "(or set DAPR_RUNTIME_PATH to the folder holding its .dapr)"
    )
