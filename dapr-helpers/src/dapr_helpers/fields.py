"""Request fields the services share.

pydantic's lax mode reads JSON `true`/`false` as 1/0 and `"5"` as 5 for an `int`;
a count of units or an id sent as a boolean or a string is a client's mistake that
the API document does not allow, so it is refused (422) instead of becoming a
product of 0 units (both found by the schemathesis fuzz test).

Free text is checked as sent against the document's `minLength`/`maxLength`, and
only then stripped (`NotBlank`): pydantic's `strip_whitespace` strips first, so a
name of 201 characters starting with a space passed a `maxLength` of 200 (found by
the fuzz test too).
"""

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator


def _a_json_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true or false")
    if isinstance(value, str | bytes):
        raise ValueError("must be an integer, not a string")
    return value


Integer = Annotated[int, BeforeValidator(_a_json_number)]


def _stripped(value: str) -> str:
    if not (value := value.strip()):
        raise ValueError("must not be blank")
    return value


# After `StringConstraints(min_length=1, max_length=N)`: the text without surrounding
# whitespace, refused if nothing else is left.
NotBlank = AfterValidator(_stripped)
