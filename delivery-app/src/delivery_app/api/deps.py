from typing import Annotated

from fastapi import Depends, Request

from delivery_app.service.commands import CommandService
from delivery_app.service.couriers import CourierService


def _couriers(request: Request) -> CourierService:
    return request.app.state.couriers


def _commands(request: Request) -> CommandService:
    return request.app.state.commands


Couriers = Annotated[CourierService, Depends(_couriers)]
Commands = Annotated[CommandService, Depends(_commands)]
