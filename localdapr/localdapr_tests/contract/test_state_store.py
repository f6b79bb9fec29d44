"""localdapr's state store below the API: what the SDK cannot observe.

Lazy purging of expired rows and the durability of the ETag counter are
invisible through Dapr's API (expired rows already read as missing), so they
are checked on `localdapr.state.store` directly. Mirrors components-contrib
`common/component/postgresql/v1` (expiredate + garbage collection; `xmin`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from localdapr.db import Database
from localdapr.state import query as stq
from localdapr.state import store as st

from localdapr import db as dbmod

from .conftest import localdapr_only

pytestmark = localdapr_only


@pytest.fixture
def store(tmp_path: Path) -> st.StateStore:
    return st.StateStore(Database(tmp_path / "s.sqlite3"))


def count_rows(s: st.StateStore) -> int:
    return int(s.db.execute("SELECT count(*) FROM state").fetchone()[0])


def test_expired_rows_are_purged_lazily(store: st.StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """postgresql v1 deletes rows whose `expiredate` passed (its garbage collector); here a
    write purges them, at most once a second."""
    store.set("t", st.SetRequest("app||a", b"1", metadata={"ttlInSeconds": "5"}))
    store.set("t", st.SetRequest("app||b", b"2"))
    later = dbmod.now() + 10
    monkeypatch.setattr(st, "now", lambda: later)
    assert store.get("t", "app||a") is None  # invisible at once
    assert count_rows(store) == 2
    store._last_purge = 0.0
    store.set("t", st.SetRequest("app||c", b"3"))
    assert count_rows(store) == 2  # a purged, b and c left


def test_etag_counter_survives_reopen_even_after_deleting_the_newest_row(tmp_path: Path) -> None:
    """`xmin` never goes back: a reopened store continues after the highest ETag ever given,
    even when the row that held it was deleted."""
    s1 = st.StateStore(Database(tmp_path / "e.sqlite3"))
    s1.set("t", st.SetRequest("app||a", b"1"))
    s1.set("t", st.SetRequest("app||b", b"2"))
    top = int(s1.get("t", "app||b").etag)  # type: ignore[union-attr]
    s1.delete("t", st.DeleteRequest("app||b"))
    s1.db.close()
    s2 = st.StateStore(Database(tmp_path / "e.sqlite3"))
    s2.set("t", st.SetRequest("app||c", b"3"))
    assert int(s2.get("t", "app||c").etag) > top  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (1.5, "1.5"),
        (100000, "100000"),
        (1000000, "1e+06"),
        (0.00001, "1e-05"),
        (True, "true"),
        ("x", "x"),
    ],
)
def test_query_parameters_are_formatted_like_go(value: object, text: str) -> None:
    """postgresql_query.go binds filter values with fmt.Sprintf("%v", v) (JSON numbers are
    float64), which decides what `value->>'field' = $1` can match."""
    assert stq.go_format_v(value) == text
