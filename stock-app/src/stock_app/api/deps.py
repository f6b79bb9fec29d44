from typing import Annotated

from fastapi import Depends, Request

from stock_app.service.commands import CommandService
from stock_app.service.products import ProductService


def _products(request: Request) -> ProductService:
    return request.app.state.products


def _commands(request: Request) -> CommandService:
    return request.app.state.commands


Products = Annotated[ProductService, Depends(_products)]
Commands = Annotated[CommandService, Depends(_commands)]
