"""The order API's errors as RFC 9457 problems, titled by status (see dapr_helpers.problems)."""

import logging

from dapr_helpers.problems import install_http_problem_handlers, map_http_errors
from fastapi import FastAPI

from order_app.adapters.directory import DirectoryUnavailable
from order_app.domain import InvalidOrder
from order_app.service.orders import IdempotencyKeyInFlight, IdempotencyKeyReused, SagaUnavailable

log = logging.getLogger(__name__)


def install_order_errors(app: FastAPI) -> None:
    """A rule an order's field breaks is a 422 naming that field with the rule's own code."""
    install_http_problem_handlers(app, field_error=InvalidOrder, log=log)
    map_http_errors(app, {IdempotencyKeyReused: 422, IdempotencyKeyInFlight: 409}, field="Idempotency-Key")
    map_http_errors(app, {DirectoryUnavailable: 503, SagaUnavailable: 503})
