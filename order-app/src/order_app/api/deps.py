"""What the routes need, taken from `app.state` (set by `create_app`), as Annotated aliases."""

from typing import Annotated

from fastapi import Depends, Request

from order_app.adapters.orders import OrderRepository
from order_app.adapters.sagas import SagaGateway
from order_app.config import Settings
from order_app.service import OrderService


def _service(request: Request) -> OrderService:
    return request.app.state.service


def _orders(request: Request) -> OrderRepository:
    return request.app.state.service.orders


def _sagas(request: Request) -> SagaGateway:
    return request.app.state.service.sagas


def _settings(request: Request) -> Settings:
    return request.app.state.service.settings


ServiceDep = Annotated[OrderService, Depends(_service)]
OrdersDep = Annotated[OrderRepository, Depends(_orders)]
SagasDep = Annotated[SagaGateway, Depends(_sagas)]
SettingsDep = Annotated[Settings, Depends(_settings)]
