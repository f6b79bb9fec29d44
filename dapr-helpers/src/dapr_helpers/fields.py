"""Request fields the services share.

pydantic's lax mode reads JSON `true`/`false` as 1/0 and `"5"` as 5 for an `int`;
a count of units or an id sent as a boolean or a string is a client's mistake that
the API document does not allow, so it is refused (422) instead of becoming a
product of 0 units (both found by the schemathesis fuzz test).
"""

from typing import Annotated, Any

from pydantic import BeforeValidator


def _a_json_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true or false")
    if isinstance(value, str | bytes):
        raise ValueError("must be an integer, not a string")
    return value


Integer = Annotated[int, BeforeValidator(_a_json_number)]
