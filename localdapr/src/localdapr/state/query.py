"""The state query language (Dapr's state Query API) as `state.postgresql` v1 evaluates it.

components-contrib `state/postgresql/v1/postgresql_query.go` turns a query into SQL over
the `jsonb` values: a filter compares `value->>'field'` (text) with each value formatted
by Go's `%v`, so comparisons are textual; sorting puts NULLs last ascending, first
descending. Here the same is done in Python over the decoded JSON documents.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .errors import QueryError


def go_text(value: Any) -> str | None:
    """What Postgres' `->>` yields for a JSON value: the text a filter compares."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    return json.dumps(value, separators=(", ", ": "), default=str)


def go_format_v(value: Any) -> str:
    """Go's `fmt.Sprintf("%v", v)` for a decoded JSON value, as the component binds it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return _go_float(float(value))
    if value is None:
        return "<nil>"
    return str(value)


def _go_float(f: float) -> str:
    # %v is strconv.FormatFloat(f, 'g', -1, 64): the shortest digits, in exponent
    # form when the decimal exponent is < -4 or >= 6 (so 1000000 -> "1e+06").
    if f == 0:
        return "0"
    sign = "-" if f < 0 else ""
    digits, exp = _shortest_digits(abs(f))
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    point = exp + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _shortest_digits(f: float) -> tuple[str, int]:
    _, digits, exponent = Decimal(repr(f)).normalize().as_tuple()
    text = "".join(map(str, digits))
    return text, len(text) - 1 + int(exponent)


class QueryPlan:
    """A parsed query: its filter, sort keys and page; raises QueryError when malformed."""

    def __init__(self, query: dict[str, Any]) -> None:
        if not isinstance(query, dict):
            raise QueryError("query must be a JSON object")
        self.filter = query.get("filter") or {}
        if self.filter:
            self._check(self.filter)
        self.sorts: list[tuple[str, bool]] = []
        for item in query.get("sort") or []:
            order = str(item.get("order", "")).upper()
            if order not in ("", "ASC", "DESC"):
                raise QueryError(f"invalid order {order!r}")
            self.sorts.append((str(item["key"]), order == "DESC"))
        page = query.get("page") or {}
        self.limit = int(page.get("limit") or 0)
        token = page.get("token") or ""
        try:
            self.skip = int(token) if token else 0
        except ValueError:
            raise QueryError(f'strconv.ParseInt: parsing "{token}": invalid syntax') from None

    def _check(self, f: dict[str, Any]) -> None:
        if not isinstance(f, dict) or len(f) != 1:
            raise QueryError("filter must have exactly one operator")
        ((op, arg),) = f.items()
        if op in ("AND", "OR"):
            if not isinstance(arg, list) or len(arg) < 2:
                raise QueryError(f"{op} filter must be an array with at least two filters")
            for sub in arg:
                self._check(sub)
        elif op in ("EQ", "NEQ", "GT", "GTE", "LT", "LTE", "IN"):
            if not isinstance(arg, dict) or len(arg) != 1:
                raise QueryError(f"{op} filter must have exactly one field")
            ((name, val),) = arg.items()
            if op == "IN" and (not isinstance(val, list) or not val):
                raise QueryError(f"empty IN operator for key {name!r}")
            if op in ("GT", "GTE", "LT", "LTE") and isinstance(val, str):
                raise QueryError(f"unsupported type of value {val}; string type not permitted")
        else:
            raise QueryError(f"unsupported filter {op!r}")

    @staticmethod
    def _field(doc: Any, path: str) -> str | None:
        for part in path.split("."):
            if not isinstance(doc, dict) or part not in doc:
                return None
            doc = doc[part]
        return go_text(doc)

    def matches(self, doc: Any) -> bool:
        return self._eval(self.filter, doc) if self.filter else True

    def _eval(self, f: dict[str, Any], doc: Any) -> bool:
        ((op, arg),) = f.items()
        if op == "AND":
            return all(self._eval(sub, doc) for sub in arg)
        if op == "OR":
            return any(self._eval(sub, doc) for sub in arg)
        ((name, val),) = arg.items()
        have = self._field(doc, name)
        if have is None:  # SQL NULL never compares true
            return False
        if op == "IN":
            return any(have == go_format_v(v) for v in val)
        want = go_format_v(val)
        return {
            "EQ": have == want,
            "NEQ": have != want,
            "GT": have > want,
            "GTE": have >= want,
            "LT": have < want,
            "LTE": have <= want,
        }[op]

    def sort(self, rows: list[tuple[str, Any, bytes, int]]) -> list[tuple[str, Any, bytes, int]]:
        # Postgres sorts NULLs last ascending, first descending; apply keys right to left.
        for path, desc in reversed(self.sorts):

            def key(r: tuple[str, Any, bytes, int], p: str = path) -> tuple[bool, Any]:
                return (self._field(r[1], p) is None, self._field(r[1], p) or "")

            rows.sort(key=key, reverse=desc)
        return rows
