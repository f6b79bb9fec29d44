"""Domain objects to and from the JSON kept in the state store (money as strings)."""

from decimal import Decimal
from typing import Any

from billing_app.domain.account import Account, Entry
from billing_app.domain.payment import OrderPayment, Outcome


def account_key(login: str) -> str:
    return f"account:{login}"


def payment_key(order_id: int) -> str:
    return f"payment:{order_id}"


def account_to_json(account: Account) -> dict[str, Any]:
    history = [
        {"kind": e.kind, "amount": str(e.amount), "order_id": e.order_id, "at": e.at} for e in account.history
    ]
    return {"login": account.login, "balance": str(account.balance), "history": history}


def account_from_json(data: dict[str, Any]) -> Account:
    history = [Entry(e["kind"], Decimal(e["amount"]), e["order_id"], e["at"]) for e in data["history"]]
    return Account(data["login"], Decimal(data["balance"]), history)


def payment_to_json(payment: OrderPayment) -> dict[str, Any]:
    return {
        "order_id": payment.order_id,
        "status": payment.status,
        "login": payment.login,
        "amount": None if payment.amount is None else str(payment.amount),
        "outcomes": {action: vars(o) for action, o in payment.outcomes.items()},
    }


def payment_from_json(data: dict[str, Any]) -> OrderPayment:
    return OrderPayment(
        order_id=data["order_id"],
        status=data["status"],
        login=data["login"],
        amount=None if data["amount"] is None else Decimal(data["amount"]),
        outcomes={action: Outcome(**o) for action, o in data["outcomes"].items()},
    )
