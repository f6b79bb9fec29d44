"""Delivery's named errors as RFC 9457 problems."""

from dapr_helpers.problems import problem_response
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from delivery_app.domain.errors import DeliveryError, InvalidCourier, NoCourierAvailable, OrderCancelled

STATUS = {NoCourierAvailable: 409, OrderCancelled: 409, InvalidCourier: 422}


def install_delivery_errors(app: FastAPI) -> None:
    async def on_delivery_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DeliveryError)
        return problem_response(STATUS.get(type(exc), 409), exc.code, str(exc))

    app.add_exception_handler(DeliveryError, on_delivery_error)
