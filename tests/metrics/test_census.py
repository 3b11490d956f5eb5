"""The journal's census behind ``pcgw_operations`` and ``pcgw_queue_depth``, on SQLite and on
PostgreSQL: one ``GROUP BY`` that counts operations by status, and as the queue only the
unfinished ones due now that no live lease holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.storage import SqlJournal
from gateway.journal import Status
from gateway.metrics import census
from tests.gateway.test_journal import T0, operation

NOW = T0 + timedelta(minutes=10)
PAST, FUTURE = NOW - timedelta(minutes=1), NOW + timedelta(minutes=1)


@pytest.fixture(params=["sqlite", "postgresql"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlJournal]:
    url = (
        f"sqlite:///{tmp_path / 'journal.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    opened = SqlJournal(url)
    await opened.upgrade()
    try:
        yield opened
    finally:
        await opened.close()


async def test_operations_by_status_and_the_queue_of_due_unclaimed_ones(
    journal: SqlJournal,
) -> None:
    due = [
        operation("due", status=Status.ACCEPTED, run_after=PAST),
        operation("lease-ran-out", status=Status.RUNNING, run_after=PAST),
        operation("waits-on-the-marketplace", status=Status.ACTION_REQUIRED, run_after=NOW),
    ]
    not_due = [
        operation("later", status=Status.ACCEPTED, run_after=FUTURE),
        operation("held", status=Status.RUNNING, run_after=PAST),
        operation("done", status=Status.SUCCEEDED, run_after=PAST),
        operation("gave-up", status=Status.FAILED, run_after=PAST),
        operation("stopped", status=Status.DEAD_LETTER, run_after=PAST),
    ]
    for op in due + not_due:
        lease = None
        if op.idempotency_key == "held":
            lease = ("worker-1", FUTURE)
        elif op.idempotency_key == "lease-ran-out":
            lease = ("worker-0", PAST)
        await journal.create(op, lease)

    by_status, depth = await journal.run(lambda conn: census(conn, NOW))

    assert by_status == {
        "accepted": 2, "running": 2, "action_required": 1,
        "succeeded": 1, "failed": 1, "dead_letter": 1,
    }  # fmt: skip
    assert depth == len(due)
    _, at_start = await journal.run(lambda conn: census(conn, T0))
    assert at_start == 0  # nothing had come due yet


async def test_an_empty_journal_has_no_operations_and_no_queue(journal: SqlJournal) -> None:
    assert await journal.run(lambda conn: census(conn, NOW)) == ({}, 0)
