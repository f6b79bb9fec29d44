"""Prometheus metrics: every app serves `GET /metrics`, and the participants' command counter.

The metrics live at module level, in prometheus-client's default registry: each app
runs as one uvicorn process, so one process is one app and one set of series, and
the order app's workflow activities (run on the SDK's own thread) count into the same
registry as its requests. Tests build many apps in one process: they share these
series, so they assert deltas (`sample`, read before and after), never absolute values.
A registry per app would have to be carried into every layer that counts
(the saga handler, the workflow activities) for no gain in production.

Every name starts with `saga_`. Label values come from closed sets (participants,
actions, results, steps, reasons), never from a request's data (an order id, a login),
so the number of series stays bounded.
"""

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, disable_created_metrics, generate_latest

# No `*_created` series beside each counter and histogram: Prometheus does not need them,
# and they would double what every scrape carries.
disable_created_metrics()

METRICS_PATH = "/metrics"

# A command's handling at a participant, once per delivery: `done` (the step or its
# undo took effect), `refused` (a business refusal), `replayed` (a duplicate, answered
# with the stored outcome), `failed` (raised: Dapr redelivers it), `malformed` (never
# parsed: dropped to the dead-letter topic; its action is then `unknown`).
COMMANDS = Counter(
    "saga_commands",
    "Saga commands handled by a participant, by action and result.",
    ["participant", "action", "result"],
)
DONE, REFUSED, REPLAYED, FAILED, MALFORMED = "done", "refused", "replayed", "failed", "malformed"
UNKNOWN_ACTION = "unknown"


def install_metrics(app: FastAPI) -> None:
    """Serve the process's metrics at `/metrics` in Prometheus' text format, outside the API docs."""

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics() -> Response:  # sync: the registry is read under its locks, off the event loop
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def count_malformed(participant: str) -> None:
    """A command that never parsed: its action is not to be trusted, so it is `unknown`."""
    COMMANDS.labels(participant, UNKNOWN_ACTION, MALFORMED).inc()


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    """The current value of one series (0 if it has none yet): for tests that assert deltas."""
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0
