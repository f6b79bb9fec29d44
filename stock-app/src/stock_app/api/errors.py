"""Stock's named errors as RFC 9457 problems."""

from dapr_helpers.problems import problem_response
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from stock_app.domain.errors import (
    InsufficientStock,
    InvalidQuantity,
    OrderCancelled,
    StockError,
    UnknownProduct,
)

STATUS = {UnknownProduct: 404, InsufficientStock: 409, OrderCancelled: 409, InvalidQuantity: 422}


def install_stock_errors(app: FastAPI) -> None:
    async def on_stock_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StockError)
        return problem_response(STATUS.get(type(exc), 409), exc.code, str(exc))

    app.add_exception_handler(StockError, on_stock_error)
