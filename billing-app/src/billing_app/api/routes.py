"""Public routes under `/billing`."""

from typing import Annotated

from dapr_helpers.paging import PAGED, Before, Limit, page_headers
from dapr_helpers.problems import Problem
from fastapi import APIRouter, Body, Query, Request, Response, status

from billing_app.api.deps import Accounts
from billing_app.api.schemas import (
    AccountOut,
    Login,
    OrderPaymentOut,
    PaymentOut,
    RefillRequest,
    RegisterRequest,
)
from billing_app.domain.account import Account

router = APIRouter(prefix="/billing", tags=["billing"])


def _out(account: Account) -> AccountOut:
    return AccountOut(login=account.login, balance=account.balance)


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(
    accounts: Accounts,
    login: Annotated[Login | None, Query(description="the assignment's form")] = None,
    body: Annotated[RegisterRequest | None, Body()] = None,
) -> AccountOut:
    """Open an account with a zero balance: `?login=` or a JSON body `{"login"}`."""
    chosen = login or (body.login if body else None)
    if not chosen:
        raise Problem(422, "validation_error", "login is required (query or JSON body)")
    return _out(await accounts.register(chosen))


@router.post("/refill")
async def refill(accounts: Accounts, request: RefillRequest) -> AccountOut:
    """Add `amount` (alias `balance`) to the account."""
    return _out(await accounts.refill(request.login, request.amount))


@router.get("/account/{login}")
async def get_account(accounts: Accounts, login: str) -> AccountOut:
    """The account's balance."""
    return _out(await accounts.get(login))


@router.get("/account/{login}/payments", responses=PAGED)
async def get_payments(
    accounts: Accounts,
    request: Request,
    response: Response,
    login: str,
    limit: Limit = 20,
    before: Before = None,
) -> list[PaymentOut]:
    """The account's charges and refunds, each tied to its order, newest first, a page at a time.

    A refunded charge stays listed as a charge, and its refund is a later entry of its
    own (`GET /billing/payments/{order_id}` says what became of the order). Refills are
    not listed. `X-Total-Count` is the number of entries; `Link: rel="next"` gives the
    next, older page while there is one.
    """
    page = await accounts.payments(login, limit, before)
    page_headers(request, response, limit, page.total, page.next_cursor)
    return [PaymentOut(kind=e.kind, amount=e.amount, order_id=e.order_id, at=e.at) for e in page.entries]


@router.get("/payments/{order_id}")
async def get_order_payment(accounts: Accounts, order_id: int) -> OrderPaymentOut:
    """What billing did for one order (`charged`, `refused`, `refunded`, `cancelled`)."""
    payment = await accounts.payment(order_id)
    if payment is None:
        raise Problem(404, "unknown_order", f"billing has seen no command for order {order_id}")
    return OrderPaymentOut(
        order_id=payment.order_id, status=payment.status, login=payment.login, amount=payment.amount
    )
