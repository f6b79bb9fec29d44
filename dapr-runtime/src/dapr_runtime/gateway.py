"""localdapr's gateway on its own, in front of apps whose sidecars are real daprd:
`python -m dapr_runtime.gateway --port 8080 '{"/orders": 8001, ...}'` (prefix -> app port).
It mirrors the Kubernetes ingress, which talks to the apps, not to their sidecars."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

import uvloop
from localdapr.gateway import Gateway


async def serve(routes: dict[str, int], port: int) -> None:
    gateway = Gateway(routes, port=port)
    await gateway.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m dapr_runtime.gateway")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("routes", help='JSON: {"/prefix": app port, ...}')
    args = parser.parse_args()
    routes = {str(k): int(v) for k, v in json.loads(args.routes).items()}
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(routes, args.port))


if __name__ == "__main__":
    main()
