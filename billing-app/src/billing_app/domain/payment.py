"""Billing's side of one order: charged once, refunded at most once, tombstoned if refunded first.

The lifecycle (first outcome per action kept, tombstone) is `Participation`'s; this
record adds what the order paid, and from which account.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dapr_helpers.saga.participation import Outcome, Participation

from billing_app.domain.account import Account
from billing_app.domain.errors import BillingError, OrderCancelled, UnknownAccount
from billing_app.domain.money import money


@dataclass
class OrderPayment(Participation):
    DO, UNDO, DONE, UNDONE = "charge", "refund", "charged", "refunded"
    REFUSALS, CANCELLED = BillingError, OrderCancelled

    login: str | None = None
    amount: Decimal | None = None

    def charge(self, account: Account | None, login: str, amount: Decimal, at: str) -> Outcome:
        """Take `amount` from `account` (None: it does not exist) unless the order was cancelled."""
        amount = money(amount)
        self.login, self.amount = login, amount

        def take() -> tuple[str, dict[str, Any]]:
            if account is None:
                raise UnknownAccount(login)
            account.charge(self.order_id, amount, at)
            return f"charged {amount} to {login!r}", {"amount": str(amount)}

        return self.do(take)

    def refund(self, account: Account | None, at: str) -> Outcome:
        """Give back what `charge` took; with no charge yet, leave a tombstone. Always succeeds."""

        def give_back() -> tuple[str, dict[str, Any]]:
            # this record, not the account, knows the order was charged
            assert account is not None and account.login == self.login and self.amount is not None
            account.refund(self.order_id, self.amount, at)
            return f"refunded {self.amount}", {"refunded": str(self.amount)}

        return self.undo(give_back, nothing={"refunded": "0.00"})
