"""Billing's side of one order: charged once, refunded at most once, tombstoned if refunded first.

The first outcome of each action is kept here; a duplicate command gets it back
and changes nothing.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from billing_app.domain.account import Account
from billing_app.domain.errors import BillingError, OrderCancelled, UnknownAccount
from billing_app.domain.money import money

Status = Literal["new", "charged", "refused", "refunded", "cancelled"]
Action = Literal["charge", "refund"]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reason: str | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class OrderPayment:
    order_id: int
    status: Status = "new"
    login: str | None = None
    amount: Decimal | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def outcome_of(self, action: Action) -> Outcome | None:
        return self.outcomes.get(action)

    def charge(self, account: Account | None, login: str, amount: Decimal, at: str) -> Outcome:
        """Take `amount` from `account` (None: it does not exist) unless the order was cancelled."""
        amount = money(amount)
        self.login, self.amount = login, amount
        try:
            if self.status == "cancelled":
                raise OrderCancelled(self.order_id)
            if account is None:
                raise UnknownAccount(login)
            account.charge(self.order_id, amount, at)
        except BillingError as err:
            self.status = "refused" if self.status == "new" else self.status
            outcome = Outcome(False, err.code, str(err))
        else:
            self.status = "charged"
            outcome = Outcome(True, None, f"charged {amount} to {login!r}", {"amount": str(amount)})
        self.outcomes["charge"] = outcome
        return outcome

    def refund(self, account: Account | None, at: str) -> Outcome:
        """Give back what `charge` took; with no charge yet, leave a tombstone. Always succeeds."""
        if self.status == "charged":  # this record, not the account, knows the order was charged
            assert account is not None and account.login == self.login and self.amount is not None
            account.refund(self.order_id, self.amount, at)
            self.status = "refunded"
            outcome = Outcome(True, None, f"refunded {self.amount}", {"refunded": str(self.amount)})
        elif self.status == "new":
            self.status = "cancelled"  # tombstone: a late charge is refused
            outcome = Outcome(True, None, "nothing was charged; order cancelled", {"refunded": "0.00"})
        else:
            outcome = Outcome(True, None, "nothing to refund", {"refunded": "0.00"})
        self.outcomes["refund"] = outcome
        return outcome
