"""`localdapr` command line: run sidecars, apps and the gateway from a Dapr run file.

localdapr run -f dapr.yaml [--data-dir D] [--reset] [--gateway-port 8080]
              [--gateway-routes gateway.yaml] [--grace-period 5] [--startup-timeout 60]
localdapr reset -f dapr.yaml [--data-dir D]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import ConfigError, load_run_file
from .runner import RunOptions, reset_data_dir, resolve_data_dir, run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localdapr", description="A Dapr-API-compatible local sidecar.")
    sub = parser.add_subparsers(dest="command", required=True)
    data_help = "data folder (default: .data/localdapr beside the run file)"

    r = sub.add_parser("run", help="start the sidecars, apps and gateway of a multi-app run file")
    r.add_argument(
        "-f", "--file", type=Path, default=Path("."), help="run file, or a folder holding dapr.yaml"
    )
    r.add_argument("--data-dir", type=Path, default=None, help=data_help)
    r.add_argument("--reset", action="store_true", help="wipe the data folder before starting")
    r.add_argument("--gateway-port", type=int, default=8080)
    r.add_argument(
        "--gateway-routes",
        type=Path,
        default=None,
        help="routes file (default: gateway.yaml beside the run file)",
    )
    r.add_argument(
        "--grace-period", type=float, default=5.0, help="seconds between SIGTERM and SIGKILL for apps"
    )
    r.add_argument("--startup-timeout", type=float, default=60.0, help="seconds for every app to listen")

    z = sub.add_parser("reset", help="wipe the data folder")
    z.add_argument("-f", "--file", type=Path, default=Path("."))
    z.add_argument("--data-dir", type=Path, default=None, help=data_help)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "reset":
        try:
            path = resolve_data_dir(load_run_file(args.file).path, args.data_dir)
        except ConfigError as exc:
            print(f"localdapr: {exc}", file=sys.stderr)
            return 2
        reset_data_dir(path)
        print(f"localdapr: wiped {path}")
        return 0
    return run(
        RunOptions(
            file=args.file,
            data_dir=args.data_dir,
            reset=args.reset,
            gateway_port=args.gateway_port,
            gateway_routes=args.gateway_routes,
            grace_period=args.grace_period,
            startup_timeout=args.startup_timeout,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
