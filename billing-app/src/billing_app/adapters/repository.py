"""Billing state on the Dapr state API: each read returns the ETag its write must carry."""

from dapr_helpers.state import JsonStore, Upsert

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
    ) -> tuple[tuple[OrderPayment, str], tuple[Account | None, str | None]]:
        """What a charge needs, in one read: the payment record (created empty if new)
        and the account it would debit (None if there is no such account)."""
        key, akey = payment_key(order_id), account_key(login)
        empty = payment_to_json(OrderPayment(order_id))
        found = await self.store.read_many([key, akey], new={key: empty})
        (data, etag), (adata, aetag) = found[key], found[akey]
        assert etag is not None  # read_many made sure it exists
        account = (None, None) if adata is None else (account_from_json(adata), aetag)
        return (payment_from_json(data), etag), account

    async def payment(self, order_id: int) -> tuple[OrderPayment, str]:
        """The order's payment record, created empty first so that every write carries an ETag."""
        empty = payment_to_json(OrderPayment(order_id))
        data, etag = await self.store.get_or_create_json(payment_key(order_id), empty)
        return payment_from_json(data), etag

    async def find_payment(self, order_id: int) -> OrderPayment | None:
        data, _ = await self.store.get_json(payment_key(order_id))
        return None if data is None else payment_from_json(data)

    def save_account(self, account: Account, etag: str | None) -> Upsert:
        return Upsert(account_key(account.login), account_to_json(account), etag)

    def save_payment(self, payment: OrderPayment, etag: str) -> Upsert:
        return Upsert(payment_key(payment.order_id), payment_to_json(payment), etag)

    async def commit(self, *ops: Upsert) -> None:
        """All or nothing; a stale ETag raises `ConcurrencyConflict`."""
        await self.store.transact(list(ops))
