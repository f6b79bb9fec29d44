"""Delivery's named errors as RFC 9457 problems (each error's `code` is kept)."""

from dapr_helpers.problems import map_errors
from fastapi import FastAPI

from delivery_app.domain.errors import DeliveryError, InvalidCourier, NoCourierAvailable, OrderCancelled

STATUS: dict[type[Exception], int] = {NoCourierAvailable: 409, OrderCancelled: 409, InvalidCourier: 422}


def install_delivery_errors(app: FastAPI) -> None:
    map_errors(app, DeliveryError, STATUS)
