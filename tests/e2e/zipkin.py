"""A real trace backend for the tests: the Zipkin server jar (`make trace-backend`), in memory.

It takes spans as JSON v2 on `/api/v2/spans` (the apps' Zipkin exporter and daprd's) and
answers the query API the tests ask: `/api/v2/traces` to find a trace, `/api/v2/trace/{id}`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from localdapr.lifeline import die_with_parent
from localdapr.runner import free_port

ROOT = Path(__file__).resolve().parents[2]
JARS = ROOT / ".tools" / "zipkin"

Span = dict[str, Any]


def zipkin_jar() -> Path:
    """The jar `make trace-backend` fetched (ZIPKIN_JAR names another); an error says how to get it."""
    if named := os.environ.get("ZIPKIN_JAR"):
        jar = Path(named)
        if not jar.is_file():
            raise RuntimeError(f"ZIPKIN_JAR={named}: no such file")
        return jar
    jars = sorted(JARS.glob("zipkin-server-*-exec.jar"))
    if not jars:
        raise RuntimeError(f"the Zipkin server jar is missing from {JARS}: run `make trace-backend` first")
    return jars[-1]


class Zipkin:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)

    @property
    def spans_url(self) -> str:
        """Where exporters send spans (OTEL_EXPORTER_ZIPKIN_ENDPOINT, daprd's endpointAddress)."""
        return f"{self.url}/api/v2/spans"

    def traces(self, service: str, **params: str | int) -> list[list[Span]]:
        """The service's recent traces (`annotationQuery="order.id=7"` matches a tag)."""
        r = self.http.get("/api/v2/traces", params={"serviceName": service, "limit": 10, **params})
        r.raise_for_status()
        traces: list[list[Span]] = r.json()
        return traces

    def trace(self, trace_id: str) -> list[Span]:
        """The trace's spans; [] while none has arrived."""
        r = self.http.get(f"/api/v2/trace/{trace_id}")
        if r.status_code == 404:
            return []
        r.raise_for_status()
        spans: list[Span] = r.json()
        return spans


@contextmanager
def running_zipkin(workdir: Path, timeout: float = 90.0) -> Iterator[Zipkin]:
    """A Zipkin server on a free port, with in-memory storage, until the block ends."""
    jar = zipkin_jar()
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java is not on PATH: the Zipkin server needs Java 17+")
    port = free_port()
    env = {**os.environ, "QUERY_PORT": str(port), "STORAGE_TYPE": "mem", "SELF_TRACING_ENABLED": "false"}
    log_path = workdir / "zipkin.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            # A small heap and the quick JIT: it holds a few traces, on a machine of two cores.
            [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", str(jar)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(os.getpid()),
        )
    zipkin = Zipkin(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Zipkin exited with {process.returncode}; its log: {log_path}")
            try:
                if zipkin.http.get("/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Zipkin did not start within {timeout}s; its log: {log_path}")
            time.sleep(0.2)
        yield zipkin
    finally:
        zipkin.http.close()
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
