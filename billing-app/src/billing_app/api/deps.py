from typing import Annotated

from fastapi import Depends, Request

from billing_app.service.accounts import AccountService
from billing_app.service.commands import CommandService


def _accounts(request: Request) -> AccountService:
    return request.app.state.accounts


def _commands(request: Request) -> CommandService:
    return request.app.state.commands


Accounts = Annotated[AccountService, Depends(_accounts)]
Commands = Annotated[CommandService, Depends(_commands)]
