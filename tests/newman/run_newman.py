"""Runs the Postman collection with Newman against a local stack that it starts and stops.

    .venv/bin/python -m tests.newman.run_newman [--runtime localdapr|dapr] [extra newman options]

The stack is the end-to-end tests' `Stack`: the four apps on free ports on localdapr
(the default) or on the real Dapr runtime, with fresh data, so it never collides with
`make run` or another test run. Newman reports to the terminal and to JUnit XML
(`reports/newman-<runtime>.xml`); the exit code is Newman's, non-zero when any assertion fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.e2e.stack import RUNTIMES, make_stack

ROOT = Path(__file__).resolve().parents[2]
POSTMAN = ROOT / "postman"
COLLECTION = POSTMAN / "order-saga.postman_collection.json"
ENVIRONMENT = POSTMAN / "local.postman_environment.json"
NEWMAN = POSTMAN / "node_modules" / ".bin" / "newman"
REPORTS = ROOT / "reports"


def report(runtime: str) -> Path:
    return REPORTS / f"newman-{runtime}.xml"


def missing_tools() -> str | None:
    """Why Newman cannot run here, or None."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if not missing:
        return None
    return f"{' and '.join(missing)} not found: install Node.js 18+ to run the Postman collection"


def install_newman() -> None:
    """`npm ci` in postman/ when Newman is absent or older than the lock file."""
    installed = POSTMAN / "node_modules" / ".package-lock.json"
    lock = POSTMAN / "package-lock.json"
    if NEWMAN.exists() and installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=POSTMAN, check=True)


def newman_command(base_url: str, junit: Path, extra: Sequence[str] = ()) -> list[str]:
    return [
        str(NEWMAN), "run", str(COLLECTION),
        "--environment", str(ENVIRONMENT),
        "--env-var", f"baseUrl={base_url}",
        "--reporters", "cli,junit",
        "--reporter-junit-export", str(junit),
        "--timeout-request", "60000",  # one request; GET /orders/{id}?wait=N holds up to 30 s
        "--timeout", "600000",  # the whole run: never hang a build
        *extra,
    ]  # fmt: skip


def run(extra: Sequence[str] = (), *, capture: bool = False, runtime: str = "localdapr") -> tuple[int, str]:
    """Start a stack, run the collection against it, stop the stack: (newman's exit code, output)."""
    install_newman()
    REPORTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="newman-stack-") as workdir:
        stack = make_stack(runtime, Path(workdir))
        try:
            stack.start()
            options = [*(["--color", "off"] if capture else []), *extra]
            command = newman_command(stack.url, report(runtime), options)
            result = subprocess.run(command, cwd=ROOT, capture_output=capture, text=True, check=False)
            output = (result.stdout or "") + (result.stderr or "")
            if result.returncode != 0:
                output += "\n" + stack.logs()
            return result.returncode, output
        finally:
            stack.stop()


def main(argv: Sequence[str]) -> int:
    reason = missing_tools()
    if reason:
        print(f"newman: {reason}", file=sys.stderr)
        return 2
    runtime = "localdapr"
    if argv[:1] == ["--runtime"] and len(argv) > 1 and argv[1] in RUNTIMES:
        runtime, argv = argv[1], argv[2:]
    code, output = run(argv, runtime=runtime)
    if code != 0:
        print(output, file=sys.stderr)  # the processes' logs, to see why
    print(f"newman exited with {code}; JUnit report: {report(runtime).relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
