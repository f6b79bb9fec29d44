"""No process outlives the runner that started it, even one killed with `kill -9`.

Two lines of defence, shared by every runner of this repository (localdapr's
`run -f` and the real-Dapr runner):

1. `die_with_parent()` gives a `preexec_fn` (for `subprocess.Popen` and
   `asyncio.create_subprocess_exec`) that asks Linux to SIGKILL the child when
   its parent dies (`prctl(PR_SET_PDEATHSIG, SIGKILL)`), and exits at once if the
   parent already died between fork and prctl. The signal follows the parent
   *thread* that forked: fork from a thread that lives as long as the runner
   (the main thread / the event loop's thread), never from a short-lived worker.
   It reaches the direct child only: processes the child starts itself are
   covered by the second line.
2. A run record, `<folder of the run file>/.data/run.json`, written once the
   run is ready and removed when it stops:
   `{"runtime", "pid" (the runner), "gateway", "apps": {id: {..., "pid"}}}`, plus
   an optional `"pids": [{"name", "pid", "cmd"}]` for other processes (daprd,
   postgres ...). The next start calls `stop_leftovers()` when the recorded
   runner is dead: it stops what the record names, but only processes that
   are still what was started (their command line names the program, and they
   started before the record was written), so a reused pid is never killed;
   and the members left of a dead app's process group that carry its `APP_ID`.
   Apps are recognised by the program of their command, which the caller
   passes (`{app id: command[0]}`), other processes by their `cmd`.

Linux only (`/proc`, `prctl`); elsewhere the preexec function is None and
nothing is recognised as a leftover.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

RUN_RECORD = Path(".data/run.json")  # relative to the run file's folder

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_PROC = Path("/proc")
_START_SLACK = 2.0  # seconds: /proc/stat's btime is whole seconds


# -- 1. the kernel kills the child with its parent ---------------------------------


def die_with_parent(parent_pid: int | None = None) -> Callable[[], None] | None:
    """A `preexec_fn` making the child die with `parent_pid` (default: this process).

    Create it in the process that forks; everything it needs (libc, prctl) is
    looked up here, so the child only makes two system calls. None where
    prctl does not exist (not Linux): pass it on as `preexec_fn=` all the same.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid() if parent_pid is None else parent_pid
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:  # runs in the child, between fork and exec
        if prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before prctl: nobody would stop us
            os._exit(1)

    return preexec


# -- 2. the run record -------------------------------------------------------------


def run_record_path(run_file: Path) -> Path:
    return run_file.parent / RUN_RECORD


def write_run_record(path: Path, record: Mapping[str, Any]) -> None:
    """Write the record atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)


def read_run_record(path: Path) -> dict[str, Any] | None:
    """The record, or None if there is none (or it is not a JSON object)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def remove_run_record(path: Path, pid: int | None = None) -> None:
    """Remove the record; with `pid`, only if that runner wrote it."""
    if pid is not None:
        record = read_run_record(path)
        if record is not None and record.get("pid") != pid:
            return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def runner_alive(path: Path, record: Mapping[str, Any] | None = None) -> bool:
    """True if the record's runner still runs: its pid is alive and started before the record."""
    record = read_run_record(path) if record is None else record
    if record is None:
        return False
    pid = _pid(record.get("pid"))
    return pid is not None and _alive(pid) and _started_by(pid, _mtime(path))


def stop_leftovers(path: Path, programs: Mapping[str, str] | None = None, grace: float = 5.0) -> list[str]:
    """Stop what a dead run left running, remove its record, and say what was stopped.

    Does nothing while the recorded runner is alive. An app is recognised by
    `programs[app id]` (the program of its command, as the caller starts it
    now) in its command line (an argument whose file name starts with the
    program's), an entry of `pids` by its own `cmd` (a list, or a string: its
    first word); anything not recognised is left alone. A recognised process
    that leads its process group is stopped with its group (SIGTERM, SIGKILL
    after `grace` seconds).
    """
    record = read_run_record(path)
    if record is None or runner_alive(path, record):
        return []
    written = _mtime(path)
    groups: list[tuple[str, int]] = []  # (what, pgid)
    single: list[tuple[str, int]] = []  # (what, pid)
    strays: list[tuple[str, int]] = []  # (what, pid): members of a dead app's group
    apps = record.get("apps")
    for app_id, entry in (apps if isinstance(apps, dict) else {}).items():
        pid = _pid(entry.get("pid") if isinstance(entry, dict) else None)
        program = (programs or {}).get(app_id)
        if pid is None or not program:
            continue
        what = f"app {app_id} (pid {pid})"
        if _alive(pid):
            if _ours(pid, program, written):
                (groups if _pgid(pid) == pid else single).append((what, pid))
        else:  # PDEATHSIG killed the app; what it started may be left in its group
            marker = f"APP_ID={app_id}".encode()
            strays += [
                (f"a process of app {app_id} (pid {m})", m)
                for m in _group_members(pid)
                if marker in _environ(m)
            ]
    extra = record.get("pids")
    for entry in extra if isinstance(extra, list) else []:
        if not isinstance(entry, dict):
            continue
        pid, program = _pid(entry.get("pid")), _program(entry.get("cmd"))
        if pid is not None and program and _alive(pid) and _ours(pid, program, written):
            what = f"{entry.get('name') or 'process'} (pid {pid})"
            (groups if _pgid(pid) == pid else single).append((what, pid))
    _terminate(groups, single + strays, grace)
    remove_run_record(path)
    return [what for what, _ in groups + single + strays]


# -- /proc -------------------------------------------------------------------------


def _pid(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _program(cmd: object) -> str | None:
    if isinstance(cmd, list) and cmd and isinstance(cmd[0], str):
        return cmd[0]
    if isinstance(cmd, str) and cmd.split():
        return cmd.split()[0]
    return None


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        return (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _pgid(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[2]) if fields else None


def _group_members(pgid: int) -> list[int]:
    """The live processes of process group `pgid` (the kernel reserves a pgid while it has any)."""
    members = []
    for entry in _PROC.iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _environ(pid: int) -> bytes:
    try:
        return b"\0" + (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return b""


def _ours(pid: int, program: str, written: float) -> bool:
    """`pid` runs `program` and started before the record was written: not a reused pid."""
    try:
        argv = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    name = os.fsencode(Path(program).name)  # "python" is also "python3.11", "postgres" "postgres: ..."
    return any(arg.rsplit(b"/", 1)[-1].startswith(name) for arg in argv if arg) and _started_by(pid, written)


def _started_by(pid: int, when: float) -> bool:
    """True unless `pid` provably started after `when` (then it cannot be what was recorded)."""
    fields = _stat(pid)
    try:
        stat = (_PROC / "stat").read_text().splitlines()
        boot = next(float(line.split()[1]) for line in stat if line.startswith("btime "))
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK") if fields else None
    except (OSError, ValueError, IndexError, StopIteration):
        return True
    return started is None or started <= when + _START_SLACK


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _terminate(groups: list[tuple[str, int]], single: list[tuple[str, int]], grace: float) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL whatever is left."""

    def left() -> list[int]:
        pids = [pid for _, pid in single if _alive(pid)]
        return pids + [m for _, pgid in groups for m in _group_members(pgid)]

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        for _, pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        for pid in [pid for _, pid in single if _alive(pid)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while left() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not left():
            return
