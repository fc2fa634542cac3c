"""Fuzzing what ``runbook audit log`` reads back: events whose payload is garbage.

Rows are written straight into the SQLite file, as someone with write access to the
database could: a payload that is not an object, holds odd types, is nested deeply, or is
not JSON at all. ``audit log`` must still show the log (or say clearly what is wrong), never
end in "internal error"; ``audit verify`` is what tells that the chain is broken.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from runbook.model.repository import Repository
from tests.cli.fuzzing import FUZZ, Cli, any_text, assert_clear, deep, hostile, json_text

pytestmark = pytest.mark.slow

payloads = st.one_of(
    hostile.map(json_text),
    deep().map(json_text),
    st.dictionaries(any_text, hostile, max_size=4).map(json_text),
    st.text(max_size=40),  # mostly not JSON at all
    st.sampled_from(["", "null", "NaN", "[1, 2", '{"a": 1e999}', '"\\ud800"', "1" * 5000]),
)


@FUZZ
@given(payload=payloads, kind=st.one_of(st.just("plan.created"), any_text))
@example(payload="[1, 2", kind="plan.created")  # not JSON: the driver's decoder fails
@example(payload="[1, 2]", kind="plan.created")  # JSON, but not an object
@example(payload='{"a": "\\ud800"}', kind="plan.created")  # a lone surrogate to print
@example(payload="[" * 5000 + "]" * 5000, kind="plan.created")  # RecursionError
def test_fuzz_audit_payloads(run_cli: Cli, repo: Repository, payload: str, kind: str) -> None:
    database = repo.root / ".runbook" / "runbook.db"
    pristine = repo.root / "pristine.db"
    if not pristine.exists():
        assert run_cli("create", "Restart database").code == 0
        assert run_cli("plan", "restart-database", "-p", "host", "db1").code == 0
        with closing(sqlite3.connect(database)) as live, closing(sqlite3.connect(pristine)) as copy:
            live.backup(copy)
    # Each example starts from the same store: one bad row, not those of earlier examples.
    with closing(sqlite3.connect(pristine)) as copy, closing(sqlite3.connect(database)) as live:
        copy.backup(live)
    with closing(sqlite3.connect(database)) as db, db:
        db.execute(
            "insert into audit_events (at, actor, kind, subject, payload, prev_hash, hash) "
            "select at, actor, ?, subject, ?, prev_hash, lower(hex(randomblob(32))) "
            "from audit_events order by id limit 1",
            (kind.encode("utf-8", "surrogatepass").decode("utf-8", "replace"), payload),
        )
    for args in (("audit", "log"), ("audit", "log", "--json"), ("audit", "log", "-n", "1")):
        assert_clear(run_cli(*args))
