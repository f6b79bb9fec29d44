"""What the routes need, taken from `app.state` (set by `create_app`), as Annotated aliases.

The providers are `async def` on purpose: FastAPI runs a plain `def` dependency
in its thread pool, a thread hop per dependency per request.
"""

from typing import Annotated

from fastapi import Depends, Request

from order_app.adapters.dead_letters import DeadLetterLog
from order_app.adapters.repository import OrderRepository
from order_app.adapters.sagas import SagaGateway
from order_app.config import Settings
from order_app.service.orders import OrderService
from order_app.service.outcomes import OutcomeSignals
from order_app.service.recovery import SagaRecovery


async def _service(request: Request) -> OrderService:
    return request.app.state.service


async def _orders(request: Request) -> OrderRepository:
    return request.app.state.service.orders


async def _sagas(request: Request) -> SagaGateway:
    return request.app.state.service.sagas


async def _settings(request: Request) -> Settings:
    return request.app.state.service.settings


async def _dead_letters(request: Request) -> DeadLetterLog:
    return request.app.state.dead_letters


async def _outcomes(request: Request) -> OutcomeSignals:
    return request.app.state.outcomes


async def _recovery(request: Request) -> SagaRecovery:
    return request.app.state.recovery


ServiceDep = Annotated[OrderService, Depends(_service)]
OrdersDep = Annotated[OrderRepository, Depends(_orders)]
SagasDep = Annotated[SagaGateway, Depends(_sagas)]
SettingsDep = Annotated[Settings, Depends(_settings)]
DeadLettersDep = Annotated[DeadLetterLog, Depends(_dead_letters)]
OutcomesDep = Annotated[OutcomeSignals, Depends(_outcomes)]
RecoveryDep = Annotated[SagaRecovery, Depends(_recovery)]
