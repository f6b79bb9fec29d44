"""An account: its balance and the running totals that explain it.

The account no longer keeps its history: every charge and refund is an entry
of the login's payment listing (an index kept beside the account, appended in
the same transaction) and each order's payment record says what became of it.
So the record stays the same size however many orders the account pays for.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from billing_app.domain.errors import InsufficientFunds
from billing_app.domain.money import money, positive_money

EntryKind = Literal["charge", "refund"]


def _zero() -> Decimal:
    return money(0)


@dataclass(frozen=True)
class Entry:
    """One line of the account's payment listing: money moved for an order."""

    kind: EntryKind
    amount: Decimal
    order_id: int
    at: str  # ISO 8601 UTC


@dataclass
class Account:
    login: str
    balance: Decimal = field(default_factory=_zero)
    refilled: Decimal = field(default_factory=_zero)
    charged: Decimal = field(default_factory=_zero)
    refunded: Decimal = field(default_factory=_zero)
    # Entries not in the listing yet, appended with the account's next write: those
    # made since it was read (and, for an account written before the listing, its history).
    pending: list[Entry] = field(default_factory=list)

    def adds_up(self) -> bool:
        """Money is never made or lost: the balance is what came in minus what went out."""
        return self.balance == self.refilled - self.charged + self.refunded

    def refill(self, amount: Decimal) -> None:
        amount = positive_money(amount)
        self.balance += amount
        self.refilled += amount

    def check_has_sufficient_funds(self, amount: Decimal) -> None:
        if self.balance < amount:
            raise InsufficientFunds(self.login, self.balance, amount)

    def charge(self, order_id: int, amount: Decimal, at: str) -> Entry:
        amount = positive_money(amount)
        self.check_has_sufficient_funds(amount)
        self.balance -= amount
        self.charged += amount
        return self._entry("charge", amount, order_id, at)

    def refund(self, order_id: int, amount: Decimal, at: str) -> Entry:
        """Give `amount` back. Whether the order was charged is its payment record's
        to say (`OrderPayment.refund`), not a scan of the account's history."""
        amount = positive_money(amount)
        self.balance += amount
        self.refunded += amount
        return self._entry("refund", amount, order_id, at)

    def _entry(self, kind: EntryKind, amount: Decimal, order_id: int, at: str) -> Entry:
        entry = Entry(kind, amount, order_id, at)
        self.pending.append(entry)
        return entry
