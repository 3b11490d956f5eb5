"""The journal on PostgreSQL: the SQLite journal's behaviour tests run again on a fresh database
(several journals on it stand for several replicas), plus what only the scaled-out shape has:
the migrated schema, dead letters, retries and ``LISTEN/NOTIFY`` wake-ups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from adapters.storage import SqlJournal, migrations
from adapters.storage.schema import metadata
from gateway.journal import Status, StepStatus
from tests.gateway.test_journal import (  # the same behaviour, now on PostgreSQL
    LEASE,
    T0,
    OpenJournal,
    operation,
    step,
    test_a_created_operation_reads_back_with_aware_utc_times_and_its_json,
    test_a_cursor_the_journal_did_not_issue_is_refused,
    test_a_lease_is_extended_only_by_the_worker_holding_it,
    test_a_naive_datetime_is_refused_and_nothing_is_written,
    test_a_save_that_fails_writes_none_of_its_steps,
    test_an_expired_lease_frees_the_operation_for_another_worker,
    test_claim_skips_operations_not_yet_due_or_finished,
    test_concurrent_claimers_never_get_the_same_operation,
    test_operations_filter_by_owner_status_and_kind,
    test_operations_page_newest_first_with_a_cursor,
    test_release_all_frees_every_lease,
    test_save_upserts_steps_and_writes_the_operation,
    test_save_without_release_keeps_the_lease,
    test_secrets_are_handed_out_once,
    test_the_same_owner_and_key_find_the_first_operation,
)

__all__ = [
    "test_a_created_operation_reads_back_with_aware_utc_times_and_its_json",
    "test_a_cursor_the_journal_did_not_issue_is_refused",
    "test_a_lease_is_extended_only_by_the_worker_holding_it",
    "test_a_naive_datetime_is_refused_and_nothing_is_written",
    "test_a_save_that_fails_writes_none_of_its_steps",
    "test_an_expired_lease_frees_the_operation_for_another_worker",
    "test_claim_skips_operations_not_yet_due_or_finished",
    "test_concurrent_claimers_never_get_the_same_operation",
    "test_operations_filter_by_owner_status_and_kind",
    "test_operations_page_newest_first_with_a_cursor",
    "test_release_all_frees_every_lease",
    "test_save_upserts_steps_and_writes_the_operation",
    "test_save_without_release_keeps_the_lease",
    "test_secrets_are_handed_out_once",
    "test_the_same_owner_and_key_find_the_first_operation",
]
PG = postgresql.dialect()
MAX = 3


@pytest.fixture
async def open_journal(pg_url: str) -> AsyncIterator[OpenJournal]:
    """Journals on one PostgreSQL database, each with its own pool, as replicas would have."""
    opened: list[SqlJournal] = []

    async def open_one() -> SqlJournal:
        journal = SqlJournal(pg_url)
        opened.append(journal)
        await journal.upgrade()
        return journal

    try:
        yield open_one
    finally:
        for journal in opened:
            await journal.close()


@pytest.fixture
async def journal(open_journal: OpenJournal) -> SqlJournal:
    return await open_journal()


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlJournal]:
    """The dead-letter rules hold on both stores."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'journal.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    journal = SqlJournal(url)
    await journal.upgrade()
    try:
        yield journal
    finally:
        await journal.close()


# -- migrations ----------------------------------------------------------------------------------


def _declared(table: sa.Table) -> dict[str, Any]:
    unique = {tuple(sorted(c.name for c in con.columns))
              for con in table.constraints if isinstance(con, sa.UniqueConstraint)}  # fmt: skip
    unique |= {(c.name,) for c in table.columns if c.unique}
    return {
        "columns": {c.name: (str(c.type.compile(dialect=PG)), c.nullable) for c in table.columns},
        "primary_key": sorted(c.name for c in table.primary_key.columns),
        "unique": sorted(unique),
        "indexes": sorted((i.name, [c.name for c in i.columns]) for i in table.indexes),
        "foreign_keys": sorted(
            (fk.parent.name, fk.column.table.name, fk.column.name) for fk in table.foreign_keys
        ),
    }


def _migrated(inspector: sa.Inspector, name: str) -> dict[str, Any]:
    """What PostgreSQL holds; the indexes behind unique constraints are the constraints."""
    return {
        "columns": {
            c["name"]: (str(c["type"].compile(dialect=PG)), c["nullable"])
            for c in inspector.get_columns(name)
        },
        "primary_key": sorted(inspector.get_pk_constraint(name)["constrained_columns"]),
        "unique": sorted(
            tuple(sorted(u["column_names"])) for u in inspector.get_unique_constraints(name)
        ),
        "indexes": sorted(
            (i["name"], i["column_names"])
            for i in inspector.get_indexes(name)
            if not i.get("duplicates_constraint")
        ),
        "foreign_keys": sorted(
            (col, fk["referred_table"], ref)
            for fk in inspector.get_foreign_keys(name)
            for col, ref in zip(fk["constrained_columns"], fk["referred_columns"], strict=True)
        ),
    }


async def test_postgresql_migrations_apply_once_and_make_the_declared_schema(pg_url: str) -> None:
    journal = SqlJournal(pg_url)
    try:
        assert await journal.upgrade() == [
            "0001_journal.sql",
            "0002_access.sql",
            "0003_webhooks.sql",
        ]
        assert await journal.upgrade() == []
        inspector = sa.inspect(journal.engine)
        assert sorted(inspector.get_table_names()) == sorted(metadata.tables)
        for name, table in metadata.tables.items():
            assert _migrated(inspector, name) == _declared(table), name
    finally:
        await journal.close()


# -- several journals on one database ------------------------------------------------------------


async def test_claims_from_several_replicas_hand_each_operation_out_once_while_leases_live(
    open_journal: OpenJournal,
) -> None:
    """Waves of interleaved claims from four journals: while the first leases live, no
    operation comes back; once they run out, each comes back exactly once more."""
    setup = await open_journal()
    ids = {(await setup.create(operation(f"key-{n}")))[0].id for n in range(20)}
    replicas = [await open_journal() for _ in range(4)]

    async def wave(at: Any) -> list[str]:
        claims = [replicas[n % 4].claim(f"w{n % 4}", at, LEASE) for n in range(32)]
        return [op.id for op in await asyncio.gather(*claims) if op is not None]

    first = await wave(T0)
    assert sorted(first) == sorted(ids)
    assert await wave(T0 + timedelta(seconds=LEASE - 1)) == []
    second = await wave(T0 + timedelta(seconds=LEASE + 1))
    assert sorted(second) == sorted(ids)


# -- dead letter ---------------------------------------------------------------------------------


async def _claim_until_dead(journal: SqlJournal, op_id: str) -> int:
    """Claim as a worker that dies every time (its lease simply runs out); returns the claims."""
    at, claims = T0, 0
    while (got := await journal.claim("dies", at, LEASE, MAX)) is not None:
        assert got.id == op_id
        claims += 1
        at += timedelta(seconds=LEASE + 1)
    return claims


async def test_an_operation_whose_worker_keeps_dying_is_dead_lettered_and_listed(
    any_journal: SqlJournal,
) -> None:
    op, _ = await any_journal.create(operation("key-1"))
    assert await _claim_until_dead(any_journal, op.id) == MAX
    found = await any_journal.get(op.id)
    assert found is not None
    assert found.status is Status.DEAD_LETTER
    assert found.error is not None
    assert found.error["reason"] == "dead_letter"
    listed = await any_journal.list_operations("default", "dead_letter", None, 10, None)
    assert [o.id for o in listed.items] == [op.id]


async def test_letting_an_operation_go_in_order_resets_its_attempts(
    any_journal: SqlJournal,
) -> None:
    """A wait (a 409 during renewal, an order still provisioning) is progress, not a crash:
    an operation that waits more than ``MAX`` times is never dead-lettered for it."""
    op, _ = await any_journal.create(operation("key-1"))
    at = T0
    for _ in range(MAX * 2):
        claimed = await any_journal.claim("w", at, LEASE, MAX)
        assert claimed is not None
        claimed.status, claimed.updated_at, claimed.run_after = Status.RUNNING, at, at
        await any_journal.save(op.id, [], claimed, release=True)
    found = await any_journal.get(op.id)
    assert found is not None
    assert (found.status, found.attempts) == (Status.RUNNING, 0)


async def test_a_retried_dead_letter_runs_again_from_its_steps(any_journal: SqlJournal) -> None:
    op, _ = await any_journal.create(operation("key-1"))
    first = step("check_reseller", 0, status=StepStatus.SUCCEEDED, finished_at=T0)
    await any_journal.save(op.id, [first, step("create_customer", 1)])
    await _claim_until_dead(any_journal, op.id)
    later = T0 + timedelta(hours=1)
    retried, ok = await any_journal.retry(op.id, "default", later)
    assert ok
    assert retried is not None
    assert (retried.status, retried.error, retried.attempts) == (Status.RUNNING, None, 0)
    claimed = await any_journal.claim("w2", later, LEASE, MAX)
    assert claimed is not None
    assert [(s.name, s.status) for s in claimed.steps] == [
        ("check_reseller", StepStatus.SUCCEEDED),
        ("create_customer", StepStatus.RUNNING),
    ]


async def test_only_dead_letters_and_unavailable_failures_can_be_retried(
    any_journal: SqlJournal,
) -> None:
    refused = {"message": "no", "reason": "domain_taken"}
    unavailable = {"message": "gone", "reason": "unavailable"}
    done, _ = await any_journal.create(operation("done", status=Status.SUCCEEDED))
    bad, _ = await any_journal.create(operation("bad", status=Status.FAILED, error=refused))
    gone, _ = await any_journal.create(operation("gone", status=Status.FAILED, error=unavailable))
    failed = step("create_customer", 0, status=StepStatus.FAILED, attempts=12, error=unavailable)
    await any_journal.save(gone.id, [failed])
    for op in (done, bad):
        again, ok = await any_journal.retry(op.id, "default", T0)
        assert not ok
        assert again is not None
        assert again.status is op.status
    assert await any_journal.retry("no-such-operation", "default", T0) == (None, False)
    assert await any_journal.retry(gone.id, "someone-else", T0) == (None, False)
    _, ok = await any_journal.retry(gone.id, "default", T0)
    assert ok
    claimed = await any_journal.claim("w", T0, LEASE, MAX)
    assert claimed is not None
    assert claimed.id == gone.id
    assert [(s.status, s.attempts, s.error) for s in claimed.steps] == [
        (StepStatus.WAITING, 0, None)
    ]


# -- LISTEN/NOTIFY -------------------------------------------------------------------------------


async def test_a_new_operation_wakes_every_listening_replica(open_journal: OpenJournal) -> None:
    writer, a, b = await open_journal(), await open_journal(), await open_journal()
    woken = {"a": asyncio.Event(), "b": asyncio.Event()}
    listeners = [
        asyncio.create_task(a.listen(woken["a"].set)),
        asyncio.create_task(b.listen(woken["b"].set)),
    ]
    try:
        for event in woken.values():  # a listener wakes once when it starts listening
            await asyncio.wait_for(event.wait(), 5)
            event.clear()
        await writer.create(operation("leased"), lease=("w", T0 + timedelta(seconds=LEASE)))
        await asyncio.sleep(0.2)
        assert not any(e.is_set() for e in woken.values())  # its creator runs it: no herd
        await writer.create(operation("free"))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in woken.values())), 2)
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)


async def test_listening_on_sqlite_returns_at_once(tmp_path: Path) -> None:
    journal = SqlJournal(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        await asyncio.wait_for(journal.listen(lambda: None), 1)
    finally:
        await journal.close()


async def test_replicas_migrating_an_empty_database_together_take_turns(pg_url: str) -> None:
    """Without the advisory lock two first starts race on CREATE TABLE and one fails."""
    journals = [SqlJournal(pg_url) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(j.upgrade() for j in journals))
    finally:
        for journal in journals:
            await journal.close()
    assert sorted(map(len, applied)) == [0, 0, 0, len(migrations.available("postgresql"))]
