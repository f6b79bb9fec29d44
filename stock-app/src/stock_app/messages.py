"""Stock's part of the saga contract on `stock-commands` / `order-replies` (docs/messaging.md),
which `dapr_helpers.saga.contract` defines for the orchestrator and every participant."""

from dapr_helpers.saga.contract import STOCK, Reply
from dapr_helpers.saga.contract import ReleaseStock as ReleaseCommand
from dapr_helpers.saga.contract import ReserveStock as ReserveCommand

PARTICIPANT = STOCK.name
parse_command = STOCK.parse

__all__ = ["PARTICIPANT", "ReleaseCommand", "Reply", "ReserveCommand", "parse_command"]
