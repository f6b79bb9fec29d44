"""RememberingDirectory: what it remembers, and what it asks again."""

import pytest
from order_app.adapters.directory import DirectoryUnavailable, RememberingDirectory
from order_app.testing import FakeDirectory


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
