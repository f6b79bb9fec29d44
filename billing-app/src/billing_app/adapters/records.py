"""Domain objects to and from the JSON kept in the state store (money as strings).

Keys: `account:{login}` (the balance and its totals), `payment:{order_id}` (billing's
side of one order) and `payments:{login}` (the head of the login's payment listing,
a `ChunkedIndex` whose sealed chunks are `payments:{login}/{n}`).

An account written before the listing existed (v1) embeds a `history` of every
refill, charge and refund. It is read as an account whose charges and refunds are
`pending`: the next write of the account moves them to the listing and drops the
history.
"""

from decimal import Decimal
from typing import Any

from dapr_helpers.saga.participation import outcomes_from_json, outcomes_to_json

from billing_app.domain.account import Account, Entry
from billing_app.domain.money import money
from billing_app.domain.payment import OrderPayment


def account_key(login: str) -> str:
    return f"account:{login}"


def payment_key(order_id: int) -> str:
    return f"payment:{order_id}"


def payments_key(login: str) -> str:
    return f"payments:{login}"


def account_to_json(account: Account) -> dict[str, Any]:
    return {
        "login": account.login,
        "balance": str(account.balance),
        "refilled": str(account.refilled),
        "charged": str(account.charged),
        "refunded": str(account.refunded),
    }


def account_from_json(data: dict[str, Any]) -> Account:
    if "history" in data:
        return _account_from_v1(data)
    return Account(
        data["login"],
        Decimal(data["balance"]),
        Decimal(data["refilled"]),
        Decimal(data["charged"]),
        Decimal(data["refunded"]),
    )


def _account_from_v1(data: dict[str, Any]) -> Account:
    """The totals are summed from the history; its charges and refunds await the listing."""
    totals = {"refill": money(0), "charge": money(0), "refund": money(0)}
    pending = []
    for e in data["history"]:
        totals[e["kind"]] += Decimal(e["amount"])
        if e["kind"] != "refill":
            pending.append(entry_from_json(e))
    return Account(
        data["login"],
        Decimal(data["balance"]),
        totals["refill"],
        totals["charge"],
        totals["refund"],
        pending,
    )


def entry_to_json(entry: Entry) -> dict[str, Any]:
    return {"kind": entry.kind, "amount": str(entry.amount), "order_id": entry.order_id, "at": entry.at}


def entry_from_json(data: dict[str, Any]) -> Entry:
    return Entry(data["kind"], Decimal(data["amount"]), data["order_id"], data["at"])


def payment_to_json(payment: OrderPayment) -> dict[str, Any]:
    return {
        "order_id": payment.order_id,
        "status": payment.status,
        "login": payment.login,
        "amount": None if payment.amount is None else str(payment.amount),
        "outcomes": outcomes_to_json(payment.outcomes),
    }


def payment_from_json(data: dict[str, Any]) -> OrderPayment:
    return OrderPayment(
        order_id=data["order_id"],
        status=data["status"],
        login=data["login"],
        amount=None if data["amount"] is None else Decimal(data["amount"]),
        outcomes=outcomes_from_json(data["outcomes"]),
    )
