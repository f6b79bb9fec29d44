"""Billing's named errors as RFC 9457 problems."""

from dapr_helpers.problems import problem_response
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from billing_app.domain.errors import (
    AccountExists,
    BillingError,
    InsufficientFunds,
    InvalidAmount,
    OrderCancelled,
    UnknownAccount,
)

STATUS = {
    UnknownAccount: 404,
    AccountExists: 409,
    InsufficientFunds: 409,
    OrderCancelled: 409,
    InvalidAmount: 422,
}


def install_billing_errors(app: FastAPI) -> None:
    async def on_billing_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BillingError)
        return problem_response(STATUS.get(type(exc), 409), exc.code, str(exc))

    app.add_exception_handler(BillingError, on_billing_error)
