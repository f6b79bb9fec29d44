"""The fuzzers' own check: it must see a change a refused request made, and only then."""

from types import SimpleNamespace
from typing import Any

import pytest

from .fuzzing import refused_request_changes_nothing

BEFORE = {"stock": (200, [{"id": 1, "quantity": 10}]), "account 'ann'": (404, {"code": "unknown_account"})}


def run(after: dict[str, Any], status: int, method: str = "POST") -> None:
    check = refused_request_changes_nothing(BEFORE, lambda: after)
    check(None, SimpleNamespace(status_code=status), SimpleNamespace(method=method))


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_a_refused_request_that_changed_state_fails_the_check(status: int) -> None:
    with pytest.raises(AssertionError, match="account 'ann'"):
        run({**BEFORE, "account 'ann'": (200, {"login": "ann", "balance": 0})}, status)


def test_a_record_that_appeared_fails_the_check_too() -> None:
    with pytest.raises(AssertionError, match="couriers"):
        run({**BEFORE, "couriers": (200, [{"id": "courier-2"}])}, 422)


def test_a_refused_request_that_changed_nothing_passes() -> None:
    run(dict(BEFORE), 422)


@pytest.mark.parametrize(("status", "method"), [(201, "POST"), (200, "POST"), (404, "GET")])
def test_accepted_or_read_only_requests_are_not_judged(status: int, method: str) -> None:
    run({}, status, method)
