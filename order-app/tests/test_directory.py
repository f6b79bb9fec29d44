"""RememberingDirectory: what it remembers, and what it asks again."""

import pytest
from dapr_helpers.client import DaprHttpError, DaprUnavailable
from order_app.adapters.directory import DaprDirectory, DirectoryUnavailable, RememberingDirectory
from saga_testkit.order import FakeDirectory


class CountingDirectory(FakeDirectory):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str | int] = []

    async def account_exists(self, login: str) -> bool:
        self.asked.append(login)
        return await super().account_exists(login)

    async def product_exists(self, product_id: int) -> bool:
        self.asked.append(product_id)
        return await super().product_exists(product_id)


async def test_the_directory_remembers_what_exists_and_asks_again_about_what_did_not():
    inner = CountingDirectory()
    directory = RememberingDirectory(inner, size=2)

    assert await directory.account_exists("ann") and await directory.account_exists("ann")
    assert not await directory.account_exists("zoe")
    inner.accounts.add("zoe")  # opened a moment later
    assert await directory.account_exists("zoe")
    assert await directory.product_exists(1)  # the memory is full: "ann" is forgotten
    assert await directory.account_exists("ann")

    assert inner.asked == ["ann", "zoe", "zoe", 1, "ann"]


async def test_the_directory_remembers_nothing_when_the_participant_is_down():
    inner = CountingDirectory()
    inner.down = True
    directory = RememberingDirectory(inner)

    with pytest.raises(DirectoryUnavailable):
        await directory.account_exists("ann")
    inner.down = False
    assert await directory.account_exists("ann")
    assert inner.asked == ["ann", "ann"]


class FakeSidecar:
    """Answers invocations as the sidecar does: `{"exists": ...}`, an error status, or not there."""

    def __init__(self, error: Exception | None = None, body: bytes = b'{"exists": true}') -> None:
        self.error = error
        self.body = body
        self.paths: list[str] = []

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, bytes, None]:
        self.paths.append(path)
        if self.error:
            raise self.error
        return 200, self.body, None


async def test_the_dapr_directory_asks_one_lookup_per_participant_with_the_key_in_the_query():
    """The query string is not part of daprd's breaker key: one breaker per lookup, not per login."""
    sidecar = FakeSidecar()
    directory = DaprDirectory(sidecar, "billing", "stock")
    assert await directory.account_exists("ann+1@x") and await directory.product_exists(3)
    assert sidecar.paths == [
        "/invoke/billing/method/directory/account?login=ann%2B1%40x",
        "/invoke/stock/method/directory/product?id=3",
    ]

    sidecar.body = b'{"exists": false}'
    assert not await directory.account_exists("zoe")


@pytest.mark.parametrize(
    "sidecar",
    [
        FakeSidecar(DaprHttpError(500, "ERR_DIRECT_INVOKE", "boom")),
        FakeSidecar(DaprHttpError(404, "", "no such route")),  # an old participant: not "unknown"
        FakeSidecar(DaprUnavailable("down")),
        FakeSidecar(body=b"<html>"),
    ],
)
async def test_the_dapr_directory_is_unavailable_when_the_answer_is_not_a_lookup(sidecar):
    directory = DaprDirectory(sidecar, "billing", "stock")
    with pytest.raises(DirectoryUnavailable):
        await directory.account_exists("ann")
