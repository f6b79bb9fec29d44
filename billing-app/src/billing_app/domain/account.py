"""An account: its balance and the history of what moved it."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from billing_app.domain.errors import InsufficientFunds, InvalidAmount
from billing_app.domain.money import money, positive_money

EntryKind = Literal["refill", "charge", "refund"]


@dataclass(frozen=True)
class Entry:
    kind: EntryKind
    amount: Decimal
    order_id: int | None  # None for refills
    at: str  # ISO 8601 UTC


@dataclass
class Account:
    login: str
    balance: Decimal = field(default_factory=lambda: money(0))
    history: list[Entry] = field(default_factory=list)

    def refill(self, amount: Decimal, at: str) -> None:
        amount = positive_money(amount)
        self.balance += amount
        self.history.append(Entry("refill", amount, None, at))

    def check_has_sufficient_funds(self, amount: Decimal) -> None:
        if self.balance < amount:
            raise InsufficientFunds(self.login, self.balance, amount)

    def charge(self, order_id: int, amount: Decimal, at: str) -> None:
        amount = positive_money(amount)
        self.check_has_sufficient_funds(amount)
        self.balance -= amount
        self.history.append(Entry("charge", amount, order_id, at))

    def refund(self, order_id: int, amount: Decimal, at: str) -> None:
        amount = positive_money(amount)
        if not any(e.kind == "charge" and e.order_id == order_id for e in self.history):
            raise InvalidAmount(f"order {order_id} was never charged to {self.login!r}")
        self.balance += amount
        self.history.append(Entry("refund", amount, order_id, at))
