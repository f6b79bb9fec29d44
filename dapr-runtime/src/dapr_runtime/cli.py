"""`dapr-runtime` command line.

dapr-runtime run -f dapr.yaml [--data-dir D] [--gateway-port 8080] [--gateway-routes gateway.yaml]
dapr-runtime where     the daprd in use (an installed 1.18, or the project's build); exit 1 if none
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .binaries import RuntimeMissing, find_runtime
from .run import RunOptions, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dapr-runtime", description="The saga on the real Dapr runtime.")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="Postgres, Redis, placement, scheduler, then each app with its daprd")
    r.add_argument(
        "-f", "--file", type=Path, default=Path("."), help="run file, or a folder holding dapr.yaml"
    )
    r.add_argument("--data-dir", type=Path, default=None, help="default: .data/dapr beside the run file")
    r.add_argument("--gateway-port", type=int, default=8080)
    r.add_argument(
        "--gateway-routes", type=Path, default=None, help="default: gateway.yaml beside the run file"
    )
    w = sub.add_parser("where", help="print the folder of the daprd 1.18 in use")
    w.add_argument("--installed-only", action="store_true", help="only a user's own install, not the build")
    args = parser.parse_args(argv)
    if args.command == "where":
        try:
            runtime = find_runtime(include_project=not args.installed_only)
        except RuntimeMissing as exc:
            print(f"dapr-runtime: {exc}", file=sys.stderr)
            return 1
        print(f"{runtime.root} (daprd {runtime.version})")
        return 0
    return run(RunOptions(args.file, args.data_dir, args.gateway_port, args.gateway_routes))


if __name__ == "__main__":
    sys.exit(main())
