from typing import Annotated

from fastapi import Depends, Request

from billing_app.service.accounts import AccountService


async def _accounts(request: Request) -> AccountService:
    return request.app.state.accounts


Accounts = Annotated[AccountService, Depends(_accounts)]
