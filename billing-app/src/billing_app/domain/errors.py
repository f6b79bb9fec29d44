"""Named business errors; `code` is the stable reason the API and replies expose."""

from dapr_helpers.saga.participation import StepRefused


class BillingError(StepRefused):
    code = "billing_error"


class InvalidAmount(BillingError, ValueError):
    code = "invalid_amount"


class UnknownAccount(BillingError):
    code = "unknown_account"

    def __init__(self, login: str) -> None:
        super().__init__(f"account {login!r} does not exist")
        self.login = login


class AccountExists(BillingError):
    code = "account_exists"

    def __init__(self, login: str) -> None:
        super().__init__(f"account {login!r} already exists")
        self.login = login


class InsufficientFunds(BillingError):
    code = "insufficient_funds"

    def __init__(self, login: str, balance: object, amount: object) -> None:
        super().__init__(f"account {login!r} has {balance}, {amount} requested")


class OrderCancelled(BillingError):
    code = "order_cancelled"

    def __init__(self, order_id: int) -> None:
        super().__init__(f"order {order_id} was refunded before its charge arrived")
