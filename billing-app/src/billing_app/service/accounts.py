"""Public account operations: register, refill, read."""

from decimal import Decimal

from dapr_helpers.state import retry_on_conflict

from billing_app.adapters.repository import BillingRepository
from billing_app.domain.account import Account
from billing_app.domain.errors import AccountExists, UnknownAccount
from billing_app.domain.payment import OrderPayment
from billing_app.service.clock import utc_now


class AccountService:
    def __init__(self, repo: BillingRepository) -> None:
        self.repo = repo

    async def register(self, login: str) -> Account:
        account = Account(login)
        if not await self.repo.create_account(account):
            raise AccountExists(login)
        return account

    async def refill(self, login: str, amount: Decimal) -> Account:
        async def attempt() -> Account:
            account, etag = await self.repo.account(login)
            if account is None:
                raise UnknownAccount(login)
            account.refill(amount, utc_now())
            await self.repo.commit(self.repo.save_account(account, etag))
            return account

        return await retry_on_conflict(attempt)

    async def get(self, login: str) -> Account:
        account, _ = await self.repo.account(login)
        if account is None:
            raise UnknownAccount(login)
        return account

    async def exists(self, login: str) -> bool:
        account, _ = await self.repo.account(login)
        return account is not None

    async def payment(self, order_id: int) -> OrderPayment | None:
        return await self.repo.find_payment(order_id)
