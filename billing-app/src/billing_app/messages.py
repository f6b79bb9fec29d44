"""Billing's part of the saga contract on `billing-commands` / `order-replies` (docs/messaging.md),
which `dapr_helpers.saga.contract` defines for the orchestrator and every participant."""

from dapr_helpers.saga.contract import BILLING, Reply
from dapr_helpers.saga.contract import ChargePayment as ChargeCommand
from dapr_helpers.saga.contract import RefundPayment as RefundCommand

PARTICIPANT = BILLING.name
parse_command = BILLING.parse

__all__ = ["PARTICIPANT", "ChargeCommand", "RefundCommand", "Reply", "parse_command"]
