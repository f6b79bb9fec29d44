"""`make bench`'s options for measuring the runtime's settings, without a sidecar: the backlog
of scheduler jobs (`--backlog`) against a stand-in Jobs API, and the refusals of bad options."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from aiohttp import web
from localdapr.runner import free_port

from tests.e2e.stack import ROOT

if str(ROOT) not in sys.path:  # `bench` is run from the repository's root (python -m bench.saga_bench)
    sys.path.insert(0, str(ROOT))

from bench.saga_bench import Backlog


class JobsApi:
    """daprd's `POST /v1.0-alpha1/jobs/{name}`, recording each job and how many were in flight;
    answers 500 for the job named `failing`."""

    def __init__(self, failing: str | None = None) -> None:
        self.jobs: dict[str, dict[str, str]] = {}
        self.in_flight = self.most_in_flight = 0
        self.failing = failing

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            name = request.match_info["name"]
            if name == self.failing:
                return web.Response(status=500, text="scheduler unavailable")
            assert name not in self.jobs, f"{name} scheduled twice"
            self.jobs[name] = await request.json()
            await asyncio.sleep(0.002)  # the scheduler's write: others come in meanwhile
            return web.Response(status=204)
        finally:
            self.in_flight -= 1


async def serve(api: JobsApi) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v1.0-alpha1/jobs/{name}", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def test_the_backlog_schedules_every_job_once_due_in_two_days_a_few_at_a_time() -> None:
    api = JobsApi()
    runner, url = await serve(api)
    try:
        await Backlog(jobs=200, in_flight=8).schedule(url)
    finally:
        await runner.cleanup()
    assert sorted(api.jobs) == sorted(f"backlog-{n}" for n in range(200))
    assert all(job == {"dueTime": "48h"} for job in api.jobs.values())
    assert 1 < api.most_in_flight <= 8


async def test_a_job_the_sidecar_refuses_stops_the_backlog_naming_it() -> None:
    runner, url = await serve(JobsApi(failing="backlog-7"))
    try:
        with pytest.raises(RuntimeError, match="backlog job 7: 500 scheduler unavailable"):
            await Backlog(jobs=20, in_flight=4).schedule(url)
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--backlog", "5"], "--backlog needs --runtime dapr"),
        (["--runtime", "dapr", "--backlog", "-1"], "--backlog -1: a number of jobs cannot be negative"),
        (["--config", "no-such.yaml"], "--config no-such.yaml: no such file"),
    ],
)
def test_bad_options_are_refused_before_anything_starts(options: list[str], error: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.saga_bench", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert error in run.stderr, run.stderr
