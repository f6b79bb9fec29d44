"""Public account operations: register, refill, read."""

from decimal import Decimal

from dapr_helpers.index import Page
from dapr_helpers.state import retry_on_conflict

from billing_app.adapters.repository import BillingRepository
from billing_app.domain.account import Account
from billing_app.domain.errors import AccountExists, UnknownAccount
from billing_app.domain.payment import OrderPayment


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
            billing = self.repo.unit()
            account = await billing.account(login)
            if account is None:
                raise UnknownAccount(login)
            account.refill(amount)
            billing.save_account(account)
            await billing.commit()
            return account

        return await retry_on_conflict(attempt)

    async def get(self, login: str) -> Account:
        account = await self.repo.account(login)
        if account is None:
            raise UnknownAccount(login)
        return account

    async def exists(self, login: str) -> bool:
        return await self.repo.account(login) is not None

    async def payments(self, login: str, limit: int, before: int | None = None) -> Page:
        """The login's charges and refunds (`Entry`), newest first, older than position `before`."""
        page = await self.repo.payments_page(login, limit, before)
        if page is None:
            raise UnknownAccount(login)
        return page

    async def payment(self, order_id: int) -> OrderPayment | None:
        return await self.repo.find_payment(order_id)
