"""Delivery's part of the saga contract on `delivery-commands` / `order-replies` (docs/messaging.md),
which `dapr_helpers.saga.contract` defines for the orchestrator and every participant."""

from dapr_helpers.saga.contract import DELIVERY, Reply
from dapr_helpers.saga.contract import ReleaseCourier as ReleaseCommand
from dapr_helpers.saga.contract import ReserveCourier as ReserveCommand

PARTICIPANT = DELIVERY.name
parse_command = DELIVERY.parse

__all__ = ["PARTICIPANT", "ReleaseCommand", "Reply", "ReserveCommand", "parse_command"]
