"""The paging contract of the participants' listings: `limit`, `before`, and two headers."""

from typing import Annotated, Any

from fastapi import Query, Request, Response

Limit = Annotated[int, Query(ge=1, le=100, description="Entries per page, newest first.")]
Before = Annotated[
    int | None,
    Query(ge=0, description='The cursor: `before` of the previous page\'s `rel="next"` Link (a position).'),
]

# The two headers in the route's OpenAPI description: `@router.get(..., responses=PAGED)`.
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "X-Total-Count": {"description": "Entries in the whole listing.", "schema": {"type": "integer"}},
            "Link": {
                "description": 'The next (older) page, if any: `<{path}?limit=N&before=M>; rel="next"`.',
                "schema": {"type": "string"},
            },
        }
    }
}


def page_headers(
    request: Request, response: Response, limit: int, total: int, next_cursor: int | None
) -> None:
    """`X-Total-Count`, and a relative `Link` to the next (older) page when there is one."""
    response.headers["X-Total-Count"] = str(total)
    if next_cursor is not None:
        response.headers["Link"] = f'<{request.url.path}?limit={limit}&before={next_cursor}>; rel="next"'
