"""Child processes of a run: started with their output in a log file (and, for a
person at a terminal, on stdout with a prefix), killed with their parent, and
reported by name and log when they fail to start."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from localdapr.lifeline import die_with_parent


class StartError(Exception):
    """A process that did not come up: the message names it and points to its log."""


@dataclass
class Managed:
    name: str  # as a person calls it: "daprd order", "postgres"
    argv: Sequence[str | os.PathLike[str]]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    echo: bool = False  # also print each line to stdout, prefixed with the name
    preexec: Callable[[], None] | None = None  # runs in the child before it asks to die with us
    process: subprocess.Popen[bytes] | None = None
    _pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        extra, lifeline = self.preexec, die_with_parent(os.getpid())

        def child_setup() -> None:
            if extra:
                extra()  # first: a change of user clears the parent-death signal
            if lifeline:
                lifeline()

        try:
            self.process = subprocess.Popen(
                [str(a) for a in self.argv],
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C at a terminal reaches the runner only; it stops us in order
                preexec_fn=child_setup,
            )
        except OSError as exc:
            raise StartError(f"{self.name}: cannot run {self.argv[0]}: {exc.strerror or exc}") from None
        self._pump = threading.Thread(target=self._copy_output, name=f"log {self.name}", daemon=True)
        self._pump.start()

    def _copy_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with open(self.log_path, "ab") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if self.echo:
                    _echo(f"== {self.name} == {line.decode('utf-8', 'replace').rstrip()}")

    def kill(self) -> None:
        """`kill -9`, as a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, grace: float = 10.0, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def failed(self, why: str) -> StartError:
        tail = self.tail(15)
        return StartError(f"{self.name} {why}; its log: {self.log_path}" + (f"\n{tail}" if tail else ""))

    def tail(self, lines: int) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        """Poll `ready` until it holds; a process that exits first, or a timeout, is a StartError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise self.failed(f"exited with code {self.process.returncode} before {what}")
            if ready():
                return
            time.sleep(0.05)
        raise self.failed(f"did not become ready ({what}) within {timeout:.0f}s")


_echo_lock = threading.Lock()


def _echo(line: str) -> None:
    with _echo_lock:
        print(line, flush=True)


def http_ok(url: str, statuses: tuple[int, ...] = (200, 204)) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code in statuses
        except httpx.HTTPError:
            return False

    return check


def listening(port: int) -> Callable[[], bool]:
    def check() -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0

    return check
