"""`GET /directory/account?login=`: does the account exist? Asked by the order app only.

An internal route, not under `/billing`: the ingress does not reach it and, with
APP_API_TOKEN set, only the sidecar may call it. An unknown account is a 200
answer, not a 404: daprd counts every non-2xx answer of an invoked app as a
failure, which its resiliency retries and counts towards the circuit breaker
(`pkg/api/http/directmessaging.go`), so a 404 here would make a second order by
an unknown login trip the breaker and turn its 422 into a 503. The login is a
query parameter so that daprd's breaker key (`billing:directory/account`) is one
per lookup, not one per login.
"""

from fastapi import APIRouter
from pydantic import BaseModel

from billing_app.api.deps import Accounts

router = APIRouter(prefix="/directory", tags=["directory"], include_in_schema=False)


class Existence(BaseModel):
    exists: bool


@router.get("/account")
async def account_exists(accounts: Accounts, login: str) -> Existence:
    return Existence(exists=await accounts.exists(login))
