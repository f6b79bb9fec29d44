"""A workflow worker in its own process, for the recovery contract tests.

    python wf_worker_recovery.py GRPC_PORT MODE

Prints `ready` once connected, `started <activity> <key> <n>` each time the slow
activity begins (n = its invocation count for that key in this process), and
`waiting <key>` when `wfrec_restart` is about to wait for its event.

MODE `hold`:   the slow activity never finishes (the test kills this process).
MODE `once`:   the slow activity's first invocation per key waits until a line
               `release` arrives on stdin; later ones finish at once.
MODE `run`:    activities finish at once.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf

port, mode = sys.argv[1], sys.argv[2]
released = threading.Event()
invocations: Counter[str] = Counter()
lock = threading.Lock()


def say(line: str) -> None:
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


runtime = wf.WorkflowRuntime(host="127.0.0.1", port=port)


@runtime.activity(name="wfrec_slow")
def slow(ctx: Any, key: str) -> str:
    with lock:
        invocations[key] += 1
        n = invocations[key]
    say(f"started wfrec_slow {key} {n}")
    if mode == "hold":
        threading.Event().wait()
    if mode == "once" and n == 1:
        released.wait(60)
    return f"{key}:{mode}:{os.getpid()}:{n}"


@runtime.activity(name="wfrec_fast")
def fast(ctx: Any, value: str) -> str:
    return f"{value}+fast"


@runtime.activity(name="wfrec_announce")
def announce(ctx: Any, key: str) -> None:
    say(f"waiting {key}")


@runtime.workflow(name="wfrec_two_steps")
def two_steps(ctx: wf.DaprWorkflowContext, key: str):
    first = yield ctx.call_activity(slow, input=key)
    return (yield ctx.call_activity(fast, input=first))


@runtime.workflow(name="wfrec_restart")
def survive_restart(ctx: wf.DaprWorkflowContext, args: list[Any]):
    key, timer_seconds = args
    timer = ctx.create_timer(timedelta(seconds=timer_seconds))
    work = ctx.call_activity(slow, input=key)
    yield wf.when_all([timer, work])
    yield ctx.call_activity(announce, input=key)
    ctx.set_custom_status("waiting for go")
    go = yield ctx.wait_for_external_event("go")  # the never-firing 9999-12-31 timer
    return (yield ctx.call_activity(fast, input=f"{work.get_result()}|{go}"))


def read_stdin() -> None:
    for line in sys.stdin:
        if line.strip() == "release":
            released.set()


threading.Thread(target=read_stdin, daemon=True).start()
runtime.start()
runtime.wait_for_worker_ready(timeout=30)
say("ready")
threading.Event().wait()  # until killed
