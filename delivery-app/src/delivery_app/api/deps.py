from typing import Annotated

from fastapi import Depends, Request

from delivery_app.service.couriers import CourierService


async def _couriers(request: Request) -> CourierService:
    return request.app.state.couriers


Couriers = Annotated[CourierService, Depends(_couriers)]
