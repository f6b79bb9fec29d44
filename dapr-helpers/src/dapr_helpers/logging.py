"""JSON-lines logging with the current order id bound by a contextvar."""

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_order_id: ContextVar[str | int | None] = ContextVar("order_id", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, order_id when bound."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        order_id = getattr(record, "order_id", None) or _order_id.get()
        if order_id is not None:
            line["order_id"] = order_id
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log record (uvicorn's included) to stdout as JSON lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn installs its own handlers; route them through the root instead. A logger
        # without handlers is either propagating already or switched off (--no-access-log).
        logger = logging.getLogger(name)
        if logger.handlers:
            logger.handlers[:] = []
            logger.propagate = True


def current_order_id() -> str | int | None:
    return _order_id.get()


@contextmanager
def bind_order(order_id: str | int | None) -> Iterator[None]:
    """Every log line inside this block carries `order_id`."""
    token = _order_id.set(order_id)
    try:
        yield
    finally:
        _order_id.reset(token)
