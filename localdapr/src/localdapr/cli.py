"""`localdapr` command line: run sidecars (and apps) from a Dapr run file."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from .config import ConfigError, load_resources, load_run_file
from .runtime import LocalDapr
from .sidecar import SidecarOptions

DEFAULT_DATA_DIR = Path(".data/localdapr")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run(args: argparse.Namespace) -> int:
    run_file = load_run_file(args.file)
    runtime = LocalDapr(args.data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for app in run_file.apps:
            resources = load_resources(app.resources_paths)
            await runtime.add_sidecar(
                SidecarOptions(
                    app_id=app.app_id,
                    grpc_port=int(app.grpc_port or free_port()),
                    http_port=int(app.http_port or free_port()),
                    resources=resources,
                    app_port=app.app_port,
                    api_token=app.env.get("DAPR_API_TOKEN") or os.environ.get("DAPR_API_TOKEN"),
                    app_api_token=app.env.get("APP_API_TOKEN") or os.environ.get("APP_API_TOKEN"),
                )
            )
        print("localdapr: ready", flush=True)
        await stop.wait()
    finally:
        await runtime.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localdapr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the sidecars and apps of a multi-app run file")
    run.add_argument("-f", "--file", default=".", help="run file, or a folder holding dapr.yaml")
    run.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return asyncio.run(_run(args))
    except ConfigError as exc:
        print(f"localdapr: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
