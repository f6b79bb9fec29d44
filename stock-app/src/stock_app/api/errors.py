"""Stock's named errors as RFC 9457 problems (each error's `code` is kept)."""

from dapr_helpers.problems import map_errors
from fastapi import FastAPI

from stock_app.domain.errors import (
    InsufficientStock,
    InvalidQuantity,
    OrderCancelled,
    StockError,
    UnknownProduct,
)

STATUS: dict[type[Exception], int] = {
    UnknownProduct: 404,
    InsufficientStock: 409,
    OrderCancelled: 409,
    InvalidQuantity: 422,
}


def install_stock_errors(app: FastAPI) -> None:
    map_errors(app, StockError, STATUS)
