"""Billing state on the Dapr state API: each read returns the ETag its write must carry."""

from dataclasses import dataclass
from typing import Any

from dapr_helpers.index import ChunkedIndex, IndexHead, Page, head_from
from dapr_helpers.state import JsonStore, Operation, Upsert, checked_write

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
from billing_app.domain.account import Account, Entry
from billing_app.domain.payment import OrderPayment

# 32 entries of the largest possible size (15-digit amount, 19-digit order id) are
# about 3.5 KB, so no record of the listing reaches 4 KB.
CHUNK_SIZE = 32


@dataclass
class HeldAccount:
    """An account read for a write: its ETag and the head of its listing, which the
    write appends the account's pending entries to."""

    account: Account
    etag: str | None
    head: IndexHead


class BillingRepository:
    def __init__(self, store: JsonStore) -> None:
        self.store = store
        self.index = ChunkedIndex(store, CHUNK_SIZE)

    async def account(self, login: str) -> Account | None:
        data, _ = await self.store.get_json(account_key(login))
        return None if data is None else account_from_json(data)

    async def create_account(self, account: Account) -> bool:
        return await self.store.create_json(account_key(account.login), account_to_json(account))

    async def held_account(self, login: str) -> HeldAccount | None:
        """The account and its listing's head, in one read (None if there is no account)."""
        keys = [account_key(login), payments_key(login)]
        return self._held(login, await self.store.bulk_get_json(keys))

    async def payment_and_account(
        self, order_id: int, login: str
    ) -> tuple[tuple[OrderPayment, str | None], HeldAccount | None]:
        """What a charge needs, in one read: the order's payment record (empty, with no
        ETag, if it is new) and the account it would debit (None if there is none)."""
        key = payment_key(order_id)
        found = await self.store.bulk_get_json([key, account_key(login), payments_key(login)])
        data, etag = found[key]
        payment = OrderPayment(order_id) if data is None else payment_from_json(data)
        return (payment, etag), self._held(login, found)

    def _held(self, login: str, found: dict[str, tuple[Any, str | None]]) -> HeldAccount | None:
        (data, etag), (head, head_etag) = found[account_key(login)], found[payments_key(login)]
        if data is None:
            return None
        return HeldAccount(
            account_from_json(data), etag, head_from(payments_key(login), head, head_etag, CHUNK_SIZE)
        )

    async def payment(self, order_id: int) -> tuple[OrderPayment, str | None]:
        """The order's payment record with its ETag; empty, with none, if it is new."""
        data, etag = await self.store.get_json(payment_key(order_id))
        return (OrderPayment(order_id) if data is None else payment_from_json(data)), etag

    async def find_payment(self, order_id: int) -> OrderPayment | None:
        data, _ = await self.store.get_json(payment_key(order_id))
        return None if data is None else payment_from_json(data)

    async def payments_page(self, login: str, limit: int, before: int | None) -> Page | None:
        """A page of the login's charges and refunds (`Entry`), newest first (None: no such account)."""
        account = await self.account(login)
        if account is None:
            return None
        if account.pending:  # written before the listing: its history is the listing until its next write
            return page_of(account.pending, limit, before)
        page = await self.index.page(payments_key(login), limit, before)
        return Page([entry_from_json(e) for e in page.entries], page.next_cursor, page.total)

    def save_account(self, held: HeldAccount) -> list[Operation]:
        """The account's write and, in the same transaction, its pending entries' append."""
        ops: list[Operation] = [
            Upsert(account_key(held.account.login), account_to_json(held.account), held.etag)
        ]
        if held.account.pending:
            ops += held.head.append(*map(entry_to_json, held.account.pending))
        return ops

    def save_payment(self, payment: OrderPayment, etag: str | None) -> Operation:
        return checked_write(payment_key(payment.order_id), payment_to_json(payment), etag)

    async def commit(self, *ops: Operation) -> None:
        """All or nothing; a stale ETag raises `ConcurrencyConflict`."""
        await self.store.transact(list(ops))


def page_of(entries: list[Entry], limit: int, before: int | None) -> Page:
    """`ChunkedIndex.page` over a list held in memory, oldest first."""
    end = len(entries) if before is None else max(0, min(before, len(entries)))
    start = max(0, end - limit)
    return Page(entries[start:end][::-1], start if start > 0 else None, len(entries))
