"""Billing state on the Dapr state API.

`BillingRepository` answers the API's reads. A `BillingUnit`, one per attempt of a
write, reads what a command decides on with the ETags its writes must carry, and
commits the command's changes in one transaction.
"""

from typing import Any

from dapr_helpers.index import ChunkedIndex, Page, page_in_memory
from dapr_helpers.state import JsonStore
from dapr_helpers.unit_of_work import UnitOfWork

from billing_app.adapters.records import (
    account_from_json,
    account_key,
    account_to_json,
    entry_from_json,
    entry_to_json,
    payment_from_json,
    payment_key,
    payment_to_json,
    payments_key,
)
from billing_app.domain.account import Account
from billing_app.domain.payment import OrderPayment

# 32 entries of the largest possible size (15-digit amount, 19-digit order id) are
# about 3.5 KB, so no record of the listing reaches 4 KB.
CHUNK_SIZE = 32


class BillingRepository:
    def __init__(self, store: JsonStore) -> None:
        self.store = store
        self.index = ChunkedIndex(store, CHUNK_SIZE)

    def unit(self) -> "BillingUnit":
        return BillingUnit(self.store)

    async def account(self, login: str) -> Account | None:
        data, _ = await self.store.get_json(account_key(login))
        return None if data is None else account_from_json(data)

    async def create_account(self, account: Account) -> bool:
        return await self.store.create_json(account_key(account.login), account_to_json(account))

    async def find_payment(self, order_id: int) -> OrderPayment | None:
        data, _ = await self.store.get_json(payment_key(order_id))
        return None if data is None else payment_from_json(data)

    async def payments_page(self, login: str, limit: int, before: int | None) -> Page | None:
        """A page of the login's charges and refunds (`Entry`), newest first (None: no such account)."""
        account = await self.account(login)
        if account is None:
            return None
        if account.pending:  # written before the listing: its history is the listing until its next write
            return page_in_memory(account.pending, limit, before)
        page = await self.index.page(payments_key(login), limit, before)
        return Page([entry_from_json(e) for e in page.entries], page.next_cursor, page.total)


class BillingUnit(UnitOfWork):
    """Billing's records for one read-decide-write. An account is read with its listing's
    head, to which the account's write appends its pending entries."""

    async def payment_and_account(self, order_id: int, login: str) -> tuple[OrderPayment, Account | None]:
        """What a charge needs, in one read: the order's payment record (a new one if it has
        none) and the account it would debit (None if there is none)."""
        found = await self.get_many([payment_key(order_id), account_key(login), payments_key(login)])
        return _payment(order_id, found[payment_key(order_id)]), _account(found[account_key(login)])

    async def payment(self, order_id: int) -> OrderPayment:
        """The order's payment record; a new one if it has none."""
        return _payment(order_id, await self.get(payment_key(order_id)))

    async def account(self, login: str) -> Account | None:
        """The account (None if there is none) and its listing's head, in one read."""
        found = await self.get_many([account_key(login), payments_key(login)])
        return _account(found[account_key(login)])

    def save_payment(self, payment: OrderPayment) -> None:
        self.put(payment_key(payment.order_id), payment_to_json(payment))

    def save_account(self, account: Account) -> None:
        """The account and, in the same transaction, its pending entries' append to its listing."""
        self.put(account_key(account.login), account_to_json(account))
        self.append(payments_key(account.login), *map(entry_to_json, account.pending), chunk_size=CHUNK_SIZE)


def _payment(order_id: int, data: Any | None) -> OrderPayment:
    return OrderPayment(order_id) if data is None else payment_from_json(data)


def _account(data: Any | None) -> Account | None:
    return None if data is None else account_from_json(data)
