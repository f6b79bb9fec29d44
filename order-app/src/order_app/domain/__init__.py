"""The order domain: orders, their saga steps, money and delivery time. No Dapr, no FastAPI."""

from order_app.domain.delivery_time import ensure_future, parse_dtime, slot_start
from order_app.domain.errors import (
    DeliveryTimeInPast,
    InvalidAmount,
    InvalidDeliveryTime,
    InvalidEmail,
    InvalidOrder,
    InvalidTransition,
    OrderError,
    OrderNotFound,
    UnknownAccount,
    UnknownProduct,
)
from order_app.domain.money import parse_amount
from order_app.domain.order import Order, OrderRequest, OrderStatus, RejectionReason
from order_app.domain.outcome import rejection
from order_app.domain.steps import StepName, StepRecord, StepState

__all__ = [
    "DeliveryTimeInPast",
    "InvalidAmount",
    "InvalidDeliveryTime",
    "InvalidEmail",
    "InvalidOrder",
    "InvalidTransition",
    "Order",
    "OrderError",
    "OrderNotFound",
    "OrderRequest",
    "OrderStatus",
    "RejectionReason",
    "StepName",
    "StepRecord",
    "StepState",
    "UnknownAccount",
    "UnknownProduct",
    "ensure_future",
    "parse_amount",
    "parse_dtime",
    "rejection",
    "slot_start",
]
