"""The audit reads a paged listing whole, and an unpaged one (no Link) as one page.

No stack: a fake listing served through httpx.MockTransport, paged as the apps page
(newest first, `limit`, the `before` cursor, `X-Total-Count`, a relative `rel="next"` Link).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .audit import holds, listing

ENTRIES = [{"order_id": i, "quantity": 1} for i in range(250, 0, -1)]  # newest first


def paged(entries: list[dict[str, Any]], total: int | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params.get("limit", 20))
        before = int(request.url.params.get("before", len(entries)))  # positions: 0 oldest
        page = entries[len(entries) - before :][:limit]
        headers = {"X-Total-Count": str(len(entries) if total is None else total)}
        if before - limit > 0:
            headers["Link"] = f'<{request.url.path}?limit={limit}&before={before - limit}>; rel="next"'
        return httpx.Response(200, json=page, headers=headers)

    return httpx.MockTransport(handle)


def unpaged(entries: list[dict[str, Any]]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, json=entries))


def read(transport: httpx.MockTransport) -> tuple[list[dict[str, Any]], str | None]:
    async def run() -> tuple[list[dict[str, Any]], str | None]:
        async with httpx.AsyncClient(base_url="http://test", transport=transport) as http:

            async def get(path: str, **params: Any) -> httpx.Response:
                return await http.get(path, params=params)

            return await listing(get, "/stock/1/reservations")

    return asyncio.run(run())


def test_every_page_is_read_in_order() -> None:
    assert read(paged(ENTRIES)) == (ENTRIES, None)


def test_a_listing_without_link_is_one_page() -> None:
    assert read(unpaged(ENTRIES)) == (ENTRIES, None)


def test_a_total_that_the_pages_do_not_add_up_to_is_a_problem() -> None:
    items, problem = read(paged(ENTRIES, total=251))
    assert items == ENTRIES
    assert problem is not None and "X-Total-Count says 251" in problem


def test_a_cursor_that_does_not_move_is_a_problem_not_a_loop() -> None:
    stuck = httpx.MockTransport(
        lambda request: httpx.Response(
            200, json=ENTRIES[:1], headers={"Link": '</x?limit=100&before=5>; rel="next"'}
        )
    )
    _, problem = read(stuck)
    assert problem is not None and "does not move" in problem


def test_an_entry_without_status_is_held_as_today() -> None:
    assert holds({"order_id": 1}, "reserved")
    assert holds({"order_id": 1, "status": "reserved"}, "reserved")
    assert not holds({"order_id": 1, "status": "released"}, "reserved")
