"""Billing's named errors as RFC 9457 problems (each error's `code` is kept)."""

from dapr_helpers.problems import map_errors
from fastapi import FastAPI

from billing_app.domain.errors import (
    AccountExists,
    BillingError,
    InsufficientFunds,
    InvalidAmount,
    OrderCancelled,
    UnknownAccount,
)

STATUS: dict[type[Exception], int] = {
    UnknownAccount: 404,
    AccountExists: 409,
    InsufficientFunds: 409,
    OrderCancelled: 409,
    InvalidAmount: 422,
}


def install_billing_errors(app: FastAPI) -> None:
    map_errors(app, BillingError, STATUS)
