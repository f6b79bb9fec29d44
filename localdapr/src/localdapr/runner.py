"""`localdapr run -f dapr.yaml`: what `dapr run -f` does, with in-process sidecars.

Order, as the Dapr CLI: check ports, start one sidecar per app, start each
app's `command` in its `appDirPath` with the environment `dapr run` exports
(`APP_ID`, `APP_PORT`, `APP_PROTOCOL`, `DAPR_HTTP_PORT`, `DAPR_GRPC_PORT`,
then the run file's `common.env` and the app's `env`), wait until every app
listens, then say "ready". Every output line is prefixed (`== APP - id ==`
for an app, `== DAPR - id ==` for its sidecar). Ctrl-C / SIGTERM, or any app
exiting, stops everything: SIGTERM to the apps' process groups, SIGKILL after
a grace period, then the gateway and the sidecars.

A run that dies without stopping (`kill -9`) leaves nothing behind: the apps
are started with `lifeline.die_with_parent()`, so the kernel kills them with
the runner, and a ready run keeps `.data/run.json` beside the run file (removed
at the end); the next start stops what a dead run's record still names before
it checks the ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import shutil
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
import yaml

from . import lifeline
from .config import AppSpec, ConfigError, Configuration, load_gateway_routes, load_resources, load_run_file
from .gateway import Gateway
from .metadata import MetadataBlock
from .options import SidecarOptions
from .runtime import LocalDapr

log = logging.getLogger("localdapr")

DATA_DIR = Path(".data/localdapr")  # relative to the run file's folder
# SIGHUP too: the apps run in their own sessions, so a closed terminal must not orphan them.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CURRENT_APP: contextvars.ContextVar[str | None] = contextvars.ContextVar("localdapr_app", default=None)


class RunError(Exception):
    """Stops the run with a one-line message and an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RunOptions:
    file: Path
    data_dir: Path | None = None
    reset: bool = False
    gateway_port: int = 8080
    gateway_routes: Path | None = None
    grace_period: float = 5.0
    startup_timeout: float = 60.0


@dataclass
class AppPlan:
    spec: AppSpec
    http_port: int
    grpc_port: int
    process: asyncio.subprocess.Process | None = None
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


# -- helpers -------------------------------------------------------------------------


class _PrefixFormatter(logging.Formatter):
    """Sidecar logs carry the app id of the sidecar whose task logged them."""

    def format(self, record: logging.LogRecord) -> str:
        app = CURRENT_APP.get()
        prefix = f"== DAPR - {app} ==" if app else "== localdapr =="
        return f"{prefix} {record.levelname.lower()} {record.name}: {record.getMessage()}" + (
            "\n" + self.formatException(record.exc_info) if record.exc_info else ""
        )


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_PrefixFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and never handed out before by this process.

    The ports are bound only later, and the kernel may offer a port it just
    offered again: two parts of one run would then share it.
    """
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def resolve_data_dir(run_file: Path, data_dir: Path | None) -> Path:
    return (data_dir if data_dir is not None else run_file.parent / DATA_DIR).resolve()


def reset_data_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def load_configuration(path: Path | None) -> Configuration | None:
    """The app's `configFilePath` (a Dapr `Configuration` document), as daprd's --config."""
    if path is None:
        return None
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "Configuration":
            config = Configuration(
                name=(doc.get("metadata") or {}).get("name", path.stem), spec=doc.get("spec") or {}
            )
            try:
                config.retention_policy  # noqa: B018 - parsed here so a bad one fails the start
            except ConfigError as exc:
                raise ConfigError(f"config file {path}: {exc}") from None
            return config
    raise ConfigError(f"config file {path}: no Configuration document")


def app_env(plan: AppPlan) -> dict[str, str]:
    """The environment `dapr run` gives an app (dapr/cli pkg/standalone/run.go getEnv)."""
    spec = plan.spec
    env = dict(os.environ)
    # Make the interpreter running localdapr the `python` of the apps, as an activated venv would.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("PYTHONUNBUFFERED", "1")  # log lines reach the prefixer as they are written
    env.update(
        {"APP_ID": spec.app_id, "DAPR_HTTP_PORT": str(plan.http_port), "DAPR_GRPC_PORT": str(plan.grpc_port)}
    )
    if spec.app_port:
        env["APP_PORT"] = str(spec.app_port)
    env["APP_PROTOCOL"] = spec.app_protocol or "http"
    env.update(spec.env)
    return env


# -- the run -------------------------------------------------------------------------


class Runner:
    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.run_file = load_run_file(options.file)
        self.data_dir = resolve_data_dir(self.run_file.path, options.data_dir)
        self.routes_file = options.gateway_routes
        default_routes = self.run_file.path.parent / "gateway.yaml"
        if self.routes_file is None and default_routes.is_file():
            self.routes_file = default_routes
        self.plans = [
            AppPlan(a, int(a.http_port or free_port()), int(a.grpc_port or free_port()))
            for a in self.run_file.apps
        ]
        self.gateway: Gateway | None = None
        self.runtime: LocalDapr | None = None
        self.record_path = lifeline.run_record_path(self.run_file.path)
        # Made here, in the main thread that runs the loop and forks the apps: they die with it.
        self._preexec = lifeline.die_with_parent()
        self._stop = asyncio.Event()
        self._force = asyncio.Event()

    # -- checks before anything starts --------------------------------------
    def _gateway_routes(self) -> dict[str, int]:
        if self.routes_file is None:
            return {}
        ports = {p.spec.app_id: p.spec.app_port for p in self.plans}
        out: dict[str, int] = {}
        for prefix, app_id in load_gateway_routes(self.routes_file).items():
            if app_id not in ports:
                raise ConfigError(f"gateway routes {self.routes_file}: {prefix} -> unknown app id {app_id!r}")
            if not ports[app_id]:
                raise ConfigError(f"gateway routes {self.routes_file}: app {app_id!r} has no appPort")
            out[prefix] = int(ports[app_id])  # type: ignore[arg-type]
        return out

    def _check_ports(self, gateway: bool) -> None:
        wanted: list[tuple[int, str]] = []
        for p in self.plans:
            wanted += [
                (p.http_port, f"daprHTTPPort of {p.spec.app_id}"),
                (p.grpc_port, f"daprGRPCPort of {p.spec.app_id}"),
            ]
            if p.spec.command and p.spec.app_port:  # an app without a command is already running
                wanted.append((p.spec.app_port, f"appPort of {p.spec.app_id}"))
        if gateway:
            wanted.append((self.options.gateway_port, "the gateway port"))
        seen: dict[int, str] = {}
        for port, what in wanted:
            if port in seen:
                raise RunError(f"port {port} is used twice: {seen[port]} and {what}", 2)
            seen[port] = what
            if port_in_use(port):
                raise RunError(f"port {port} ({what}) is already in use", 2)
        for p in self.plans:
            if p.spec.command and not p.spec.app_dir.is_dir():
                raise RunError(f"app {p.spec.app_id}: appDirPath {p.spec.app_dir} is not a folder", 2)

    # -- lifecycle ------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in _STOP_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal)
        try:
            return await self._run()
        finally:
            try:
                await self._shutdown()
            finally:
                lifeline.remove_run_record(self.record_path, os.getpid())  # only if it is ours
            for sig in _STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    def _on_signal(self) -> None:
        if self._stop.is_set():
            self._force.set()  # a second Ctrl-C: no more grace
        self._stop.set()

    async def _run(self) -> int:
        routes = self._gateway_routes()
        await self._stop_leftovers()
        self._check_ports(bool(routes))
        if self.options.reset:
            reset_data_dir(self.data_dir)
        sidecar_options = [self._sidecar_options(p) for p in self.plans]
        self.runtime = LocalDapr(self.data_dir)
        for o in sidecar_options:
            await self._start_sidecar(o)
        if routes:
            self.gateway = Gateway(routes, port=self.options.gateway_port)
            try:
                await self.gateway.start()
            except OSError as exc:
                raise RunError(f"gateway: {exc.strerror or exc}", 2) from None
        for p in self.plans:
            if p.spec.command:
                await self._start_app(p)
        exited = asyncio.ensure_future(self._first_exit())
        ready = asyncio.ensure_future(self._wait_ready())
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait({exited, ready, stop}, return_when=asyncio.FIRST_COMPLETED)
            if ready in done:
                ready.result()  # raises RunError on a startup timeout
                self._write_run_record()
                print(self._ready_line(), flush=True)
                print(self._routes_table(), flush=True)
                done, _ = await asyncio.wait({exited, stop}, return_when=asyncio.FIRST_COMPLETED)
            if exited in done:
                app_id, code = exited.result()
                raise RunError(f"app {app_id} exited with code {code}", code if code > 0 else 1)
            return 0
        finally:
            for task in (exited, ready, stop):
                task.cancel()

    async def _stop_leftovers(self) -> None:
        """Stop what a run killed without stopping (its runner is dead) left, as its record names it."""
        record = lifeline.read_run_record(self.record_path)
        if record is None or lifeline.runner_alive(self.record_path, record):
            return  # nothing left, or another run is going: the port check will say so
        programs = {p.spec.app_id: p.spec.command[0] for p in self.plans if p.spec.command}
        stopped = await asyncio.to_thread(
            lifeline.stop_leftovers, self.record_path, programs, self.options.grace_period
        )
        what = f"stopped {', '.join(stopped)}" if stopped else "nothing of it was still running"
        print(f"localdapr: the run of pid {record.get('pid')} was not stopped cleanly: {what}", flush=True)

    def _write_run_record(self) -> None:
        """`.data/run.json` beside the run file, for the next start and for other tools."""
        record = {
            "runtime": "localdapr",
            "pid": os.getpid(),
            "gateway": f"http://localhost:{self.gateway.port}" if self.gateway else None,
            "apps": {
                p.spec.app_id: {
                    "app_port": int(p.spec.app_port) if p.spec.app_port else None,
                    "dapr_http_port": p.http_port,
                    "dapr_grpc_port": p.grpc_port,
                    "pid": p.process.pid if p.process else None,
                }
                for p in self.plans
            },
        }
        try:
            lifeline.write_run_record(self.record_path, record)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.record_path, exc.strerror or exc)

    def _sidecar_options(self, p: AppPlan) -> SidecarOptions:
        env = {**os.environ, **p.spec.env}
        return SidecarOptions(
            app_id=p.spec.app_id,
            grpc_port=p.grpc_port,
            http_port=p.http_port,
            resources=load_resources(p.spec.resources_paths),
            app_port=p.spec.app_port,
            configuration=load_configuration(p.spec.config_file),
            api_token=env.get("DAPR_API_TOKEN") or None,
            app_api_token=env.get("APP_API_TOKEN") or None,
        )

    async def _start_sidecar(self, options: SidecarOptions) -> None:
        assert self.runtime is not None
        runtime = self.runtime

        async def start() -> None:
            CURRENT_APP.set(options.app_id)  # inherited by the sidecar's server tasks, for log prefixes
            await runtime.add_sidecar(options)

        try:
            await asyncio.create_task(start())
        except (OSError, RuntimeError) as exc:  # grpc reports a failed bind as RuntimeError
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise RunError(f"sidecar {options.app_id} could not start: {reason}", 2) from None

    async def _start_app(self, p: AppPlan) -> None:
        try:
            p.process = await asyncio.create_subprocess_exec(
                *p.spec.command,
                cwd=p.spec.app_dir,
                env=app_env(p),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group: we signal the app and its children together
                preexec_fn=self._preexec,  # and the kernel kills it if localdapr dies (kill -9)
                limit=1 << 20,
            )
        except (FileNotFoundError, PermissionError) as exc:
            raise RunError(
                f"app {p.spec.app_id}: cannot run {p.spec.command[0]!r}: {exc.strerror}", 2
            ) from None
        assert p.process.stdout is not None
        p.pumps.append(asyncio.create_task(_pump(p.spec.app_id, p.process.stdout)))
        # What the Dapr CLI records in each sidecar's metadata (read by `dapr list`).
        if self.runtime and (sidecar := self.runtime.sidecars.get(p.spec.app_id)):
            meta = sidecar.block(MetadataBlock)
            meta.extended["appCommand"] = " ".join(p.spec.command)
            meta.extended["appPID"] = str(p.process.pid)
            meta.extended["cliPID"] = str(os.getpid())

    async def _first_exit(self) -> tuple[str, int]:
        waits = {asyncio.ensure_future(p.process.wait()): p for p in self.plans if p.process}
        if not waits:
            await asyncio.Event().wait()  # sidecars only: nothing can exit
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        plan = waits[next(iter(done))]
        for pump in plan.pumps:  # print the app's last words before the error line
            with contextlib.suppress(TimeoutError):  # a child of the app may hold the pipe open
                await asyncio.wait_for(asyncio.shield(pump), 2)
        code = plan.process.returncode if plan.process else 0
        return plan.spec.app_id, (128 - code if code is not None and code < 0 else code or 0)

    async def _wait_ready(self) -> None:
        async def one(p: AppPlan) -> None:
            if p.process is None or not p.spec.app_port:
                return
            path = p.spec.app_health_check_path if p.spec.enable_app_health_check else None
            await _wait_app(p.spec.app_port, path)

        try:
            async with asyncio.timeout(self.options.startup_timeout):
                await asyncio.gather(*(one(p) for p in self.plans))
        except TimeoutError:
            slow = [p.spec.app_id for p in self.plans if p.process and p.spec.app_port]
            raise RunError(
                f"apps not listening after {self.options.startup_timeout:.0f}s (of: {', '.join(slow)})"
            ) from None

    def _ready_line(self) -> str:
        parts = ["localdapr: ready"]
        if self.gateway:
            parts.append(f"gateway http://localhost:{self.gateway.port}")
        for p in self.plans:
            app = f"app :{p.spec.app_port}" if p.spec.app_port else "no app port"
            parts.append(f"{p.spec.app_id}: {app}, dapr HTTP :{p.http_port}, gRPC :{p.grpc_port}")
        parts.append(f"data {self.data_dir}")
        return " | ".join(parts)

    def _routes_table(self) -> str:
        """The public URLs, one a line, for a person reading the console."""
        if not self.gateway:
            return "localdapr: no gateway (no routes file)"
        by_port = {p.spec.app_port: p.spec.app_id for p in self.plans}
        base = f"http://localhost:{self.gateway.port}"
        lines = [f"localdapr: gateway {base} routes (Ctrl-C stops everything):"]
        lines += [
            f"  {base}{prefix.removeprefix('='):<12} -> {by_port.get(port, '?')}"
            for prefix, port in self.gateway.routes.items()
        ]
        return "\n".join(lines)

    async def _shutdown(self) -> None:
        running = [p for p in self.plans if p.process and p.process.returncode is None]
        for p in running:
            _signal_group(p, signal.SIGTERM)
        if running:
            waits = [asyncio.ensure_future(p.process.wait()) for p in running if p.process]
            force = asyncio.ensure_future(self._force.wait())
            everyone = asyncio.gather(*waits)
            first: list[asyncio.Future[Any]] = [everyone, force]
            await asyncio.wait(first, timeout=self.options.grace_period, return_when=asyncio.FIRST_COMPLETED)
            force.cancel()
            for p in running:
                if p.process and p.process.returncode is None:
                    log.warning(
                        "app %s did not stop in %.0fs: killing it", p.spec.app_id, self.options.grace_period
                    )
                _signal_group(p, signal.SIGKILL)  # also reaps children the app left behind
            await asyncio.gather(*waits, return_exceptions=True)
        for p in self.plans:
            for pump in p.pumps:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(pump, 2)
        if self.gateway:
            await self.gateway.stop()
        if self.runtime:
            await self.runtime.stop()


def _signal_group(p: AppPlan, sig: signal.Signals) -> None:
    if p.process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.process.pid, sig)


async def _pump(app_id: str, stream: asyncio.StreamReader) -> None:
    prefix = f"== APP - {app_id} == "
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line longer than the buffer: print what we have
            line = await stream.read(1 << 20)
        if not line:
            return
        sys.stdout.write(prefix + line.decode("utf-8", "replace").rstrip("\r\n") + "\n")
        sys.stdout.flush()


async def _wait_app(port: int, health_path: str | None) -> None:
    """Wait until the app listens (and, with app health checks on, answers 2xx)."""
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            if health_path is None:
                return
            async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}{health_path}") as r:
                if 200 <= r.status < 300:
                    return
        except (OSError, aiohttp.ClientError):
            pass
        await asyncio.sleep(0.1)


def run(options: RunOptions) -> int:
    """Run until stopped; errors become one line on stderr and a non-zero exit code."""
    setup_logging()
    try:
        # uvloop: every sidecar call crosses this one loop, and it is twice as fast as asyncio's.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop:
            return loop.run(Runner(options).run())
    except ConfigError as exc:
        print(f"localdapr: {exc}", file=sys.stderr, flush=True)
        return 2
    except RunError as exc:
        print(f"localdapr: {exc}", file=sys.stderr, flush=True)
        return exc.code
