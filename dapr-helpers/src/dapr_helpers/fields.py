"""Request fields the services share.

pydantic's lax mode reads JSON `true`/`false` as 1/0 for an `int`; a count of
units or an id sent as a boolean is a client's mistake, so it is refused (422)
instead of becoming a product of 0 units (found by the schemathesis fuzz test).
"""

from typing import Annotated, Any

from pydantic import BeforeValidator


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true or false")
    return value


Integer = Annotated[int, BeforeValidator(_not_a_boolean)]
