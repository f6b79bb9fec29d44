"""Billing state on the Dapr state API: each read returns the ETag its write must carry."""

from dapr_helpers.state import JsonStore, Operation, Upsert, checked_write

from billing_app.adapters.records import (
    account_from_json,
    account_key,
    account_to_json,
    payment_from_json,
    payment_key,
    payment_to_json,
)
from billing_app.domain.account import Account
from billing_app.domain.payment import OrderPayment


class BillingRepository:
    def __init__(self, store: JsonStore) -> None:
        self.store = store

    async def account(self, login: str) -> tuple[Account | None, str | None]:
        data, etag = await self.store.get_json(account_key(login))
        return (None, None) if data is None else (account_from_json(data), etag)

    async def create_account(self, account: Account) -> bool:
        return await self.store.create_json(account_key(account.login), account_to_json(account))

    async def payment_and_account(
        self, order_id: int, login: str
    ) -> tuple[tuple[OrderPayment, str | None], tuple[Account | None, str | None]]:
        """What a charge needs, in one read: the order's payment record (empty, with no
        ETag, if it is new) and the account it would debit (None if there is none)."""
        key, akey = payment_key(order_id), account_key(login)
        found = await self.store.bulk_get_json([key, akey])
        (data, etag), (adata, aetag) = found[key], found[akey]
        payment = OrderPayment(order_id) if data is None else payment_from_json(data)
        account = (None, None) if adata is None else (account_from_json(adata), aetag)
        return (payment, etag), account

    async def payment(self, order_id: int) -> tuple[OrderPayment, str | None]:
        """The order's payment record with its ETag; empty, with none, if it is new."""
        data, etag = await self.store.get_json(payment_key(order_id))
        return (OrderPayment(order_id) if data is None else payment_from_json(data)), etag

    async def find_payment(self, order_id: int) -> OrderPayment | None:
        data, _ = await self.store.get_json(payment_key(order_id))
        return None if data is None else payment_from_json(data)

    def save_account(self, account: Account, etag: str | None) -> Upsert:
        return Upsert(account_key(account.login), account_to_json(account), etag)

    def save_payment(self, payment: OrderPayment, etag: str | None) -> Operation:
        return checked_write(payment_key(payment.order_id), payment_to_json(payment), etag)

    async def commit(self, *ops: Operation) -> None:
        """All or nothing; a stale ETag raises `ConcurrencyConflict`."""
        await self.store.transact(list(ops))
