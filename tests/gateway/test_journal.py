"""The SQLite journal on real files: idempotent creation, exclusive leases, atomic saves, one-time
secrets, paging, migrations, and aware datetimes only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from adapters.storage import SqlJournal
from adapters.storage.schema import metadata
from gateway.journal import Operation, Status, Step, StepStatus

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LEASE = 30.0
SQLITE = sqlite.dialect()


def operation(
    key: str, owner: str = "default", kind: str = "purchase", **changes: Any
) -> Operation:
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "status": Status.ACCEPTED,
        "owner": owner,
        "idempotency_key": key,
        "body_hash": "h" * 64,
        "request": {"lines": [{"quantity": 5}]},
        "created_at": T0,
        "updated_at": T0,
        "run_after": T0,
    }
    values.update(changes)
    return Operation(**values)


def step(name: str, position: int, status: StepStatus = StepStatus.RUNNING, **changes: Any) -> Step:
    values: dict[str, Any] = {"name": name, "position": position, "status": status,
                              "ms_request_id": str(uuid.uuid4()), "attempts": 1, "started_at": T0}  # fmt: skip
    values.update(changes)
    return Step(**values)


OpenJournal = Callable[[], Awaitable[SqlJournal]]


@pytest.fixture
async def open_journal(tmp_path: Path) -> AsyncIterator[OpenJournal]:
    """Opens journals on one SQLite file (each with its own connection and thread, as separate
    processes would have); all are closed at the end."""
    opened: list[SqlJournal] = []

    async def open_one() -> SqlJournal:
        journal = SqlJournal(f"sqlite:///{tmp_path / 'journal.db'}")
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


# -- create --------------------------------------------------------------------------------------


async def test_the_same_owner_and_key_find_the_first_operation(journal: SqlJournal) -> None:
    first, created = await journal.create(operation("key-1"))
    assert created
    again, created_again = await journal.create(operation("key-1", request={"other": True}))
    assert not created_again
    assert (again.id, again.request) == (first.id, {"lines": [{"quantity": 5}]})
    other_owner, created_other = await journal.create(operation("key-1", owner="tenant-b"))
    assert created_other
    assert other_owner.id != first.id


async def test_a_created_operation_reads_back_with_aware_utc_times_and_its_json(
    journal: SqlJournal,
) -> None:
    op, _ = await journal.create(operation("key-1", result={"a": [1, 2]}, secrets={"pw": "x"}))
    found = await journal.get(op.id)
    assert found is not None
    assert (found.created_at, found.run_after) == (T0, T0)
    assert found.created_at.tzinfo is not None
    # the secrets are there, but a plain read does not hand them out
    assert (found.result, found.secrets, found.status) == ({"a": [1, 2]}, {}, Status.ACCEPTED)
    taken = await journal.get(op.id, take_secrets=True)
    assert taken is not None
    assert taken.secrets == {"pw": "x"}
    again = await journal.get(op.id, take_secrets=True)
    assert again is not None
    assert again.secrets is None
    assert await journal.get(op.id, owner="someone-else") is None


async def test_a_naive_datetime_is_refused_and_nothing_is_written(journal: SqlJournal) -> None:
    naive = datetime(2026, 1, 5, 9, 0)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        await journal.create(operation("key-1", created_at=naive))
    assert (await journal.list_operations(None, None, None, 10, None)).items == []
    op, _ = await journal.create(operation("key-2"))
    with pytest.raises((sa.exc.StatementError, ValueError), match="naive datetime"):
        await journal.save(op.id, [step("check_reseller", 0, started_at=naive)])
    found = await journal.get(op.id)
    assert found is not None
    assert found.steps == []


# -- claim ---------------------------------------------------------------------------------------


async def test_concurrent_claimers_never_get_the_same_operation(open_journal: OpenJournal) -> None:
    setup = await open_journal()
    ids = set()
    for n in range(50):
        op, _ = await setup.create(operation(f"key-{n}"))
        ids.add(op.id)
    claimers = [await open_journal() for _ in range(4)]
    # 60 claims at once, 15 queued on each claimer's connection: four writers contend throughout
    claims = [claimers[n % 4].claim(f"worker-{n % 4}", T0, LEASE) for n in range(60)]
    got = [op.id for op in await asyncio.gather(*claims) if op is not None]
    assert sorted(got) == sorted(ids)  # each claimed exactly once, none twice
    assert await setup.claim("late", T0 + timedelta(seconds=LEASE - 1), LEASE) is None


async def test_an_expired_lease_frees_the_operation_for_another_worker(journal: SqlJournal) -> None:
    op, _ = await journal.create(operation("key-1"))
    first = await journal.claim("w1", T0, LEASE)
    assert first is not None
    assert first.id == op.id
    assert await journal.claim("w2", T0 + timedelta(seconds=LEASE - 1), LEASE) is None
    again = await journal.claim("w2", T0 + timedelta(seconds=LEASE + 1), LEASE)
    assert again is not None
    assert (again.id, again.attempts) == (op.id, 2)


async def test_claim_skips_operations_not_yet_due_or_finished(journal: SqlJournal) -> None:
    await journal.create(operation("later", run_after=T0 + timedelta(minutes=5)))
    await journal.create(operation("done", status=Status.SUCCEEDED))
    await journal.create(operation("failed", status=Status.FAILED))
    assert await journal.claim("w1", T0, LEASE) is None
    due = await journal.claim("w1", T0 + timedelta(minutes=5), LEASE)
    assert due is not None
    assert due.idempotency_key == "later"


async def test_release_all_frees_every_lease(journal: SqlJournal) -> None:
    for key in ("a", "b"):
        await journal.create(operation(key))
    assert await journal.claim("w1", T0, LEASE) is not None
    assert await journal.claim("w1", T0, LEASE) is not None
    assert await journal.release_all() == 2
    assert await journal.claim("w2", T0, LEASE) is not None


# -- save ----------------------------------------------------------------------------------------


async def test_save_upserts_steps_and_writes_the_operation(journal: SqlJournal) -> None:
    op, _ = await journal.create(operation("key-1"))
    claimed = await journal.claim("w1", T0, LEASE)
    assert claimed is not None
    first = step("check_reseller", 0)
    await journal.save(op.id, [first])
    first.status, first.finished_at, first.output = StepStatus.SUCCEEDED, T0, {"tenant": "r1"}
    second = step("check_domain", 1, status=StepStatus.WAITING, attempts=3)
    op.status, op.result, op.updated_at = Status.RUNNING, {"customerId": "c1"}, T0
    op.run_after = T0 + timedelta(seconds=10)
    await journal.save(op.id, [first, second], op, release=True)
    found = await journal.get(op.id)
    assert found is not None
    assert [(s.name, s.status, s.attempts, s.output) for s in found.steps] == [
        ("check_reseller", StepStatus.SUCCEEDED, 1, {"tenant": "r1"}),
        ("check_domain", StepStatus.WAITING, 3, {}),
    ]
    assert (found.steps[0].ms_request_id, found.steps[0].finished_at) == (first.ms_request_id, T0)
    assert (found.status, found.result, found.run_after) == (
        Status.RUNNING,
        {"customerId": "c1"},
        op.run_after,
    )
    # released: claimable again as soon as it is due, by anyone
    assert await journal.claim("w2", op.run_after, LEASE) is not None


async def test_save_without_release_keeps_the_lease(journal: SqlJournal) -> None:
    op, _ = await journal.create(operation("key-1"))
    assert await journal.claim("w1", T0, LEASE) is not None
    op.status = Status.RUNNING
    await journal.save(op.id, [], op)
    assert await journal.claim("w2", T0 + timedelta(seconds=1), LEASE) is None


async def test_a_save_that_fails_writes_none_of_its_steps(journal: SqlJournal) -> None:
    """Steps and operation in one transaction: a failing operation write takes its steps with it."""
    op, _ = await journal.create(operation("key-1"))
    await journal.save(op.id, [step("check_reseller", 0)])
    done = step("check_reseller", 0, status=StepStatus.SUCCEEDED, finished_at=T0)
    op.status, op.updated_at = Status.SUCCEEDED, datetime(2026, 1, 5, 9, 0)  # naive: refused
    with pytest.raises((sa.exc.StatementError, ValueError), match="naive datetime"):
        await journal.save(op.id, [done, step("check_domain", 1)], op)
    found = await journal.get(op.id)
    assert found is not None
    assert [(s.name, s.status) for s in found.steps] == [("check_reseller", StepStatus.RUNNING)]
    assert found.status is Status.ACCEPTED


async def test_secrets_are_handed_out_once(journal: SqlJournal) -> None:
    op, _ = await journal.create(operation("key-1", secrets={"adminPassword": "p4ss"}))
    assert await journal.take_secrets(op.id) == {"adminPassword": "p4ss"}
    assert await journal.take_secrets(op.id) is None
    found = await journal.get(op.id)
    assert found is not None
    assert found.secrets is None
    assert await journal.take_secrets("no-such-operation") is None


# -- list ----------------------------------------------------------------------------------------


async def test_operations_page_newest_first_with_a_cursor(journal: SqlJournal) -> None:
    keys = [f"key-{n}" for n in range(5)]
    for key in keys:
        await journal.create(operation(key))
    seen, cursor, pages = [], None, 0
    while True:
        page = await journal.list_operations("default", None, None, 2, cursor)
        seen += [op.idempotency_key for op in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert (seen, pages) == (list(reversed(keys)), 3)
    exact = await journal.list_operations("default", None, None, 5, None)
    assert (len(exact.items), exact.next_cursor) == (5, None)


async def test_operations_filter_by_owner_status_and_kind(journal: SqlJournal) -> None:
    await journal.create(operation("a"))
    await journal.create(operation("b", status=Status.FAILED))
    await journal.create(operation("c", kind="cancel"))
    await journal.create(operation("d", owner="other"))

    async def keys(**filters: Any) -> list[str]:
        args = {"owner": "default", "status": None, "kind": None, **filters}
        page = await journal.list_operations(limit=10, cursor=None, **args)
        return [op.idempotency_key for op in page.items]

    assert await keys() == ["c", "b", "a"]
    assert await keys(status="failed") == ["b"]
    assert await keys(kind="cancel") == ["c"]
    assert await keys(owner=None) == ["d", "c", "b", "a"]


async def test_a_cursor_the_journal_did_not_issue_is_refused(journal: SqlJournal) -> None:
    with pytest.raises(ValueError, match="cursor"):
        await journal.list_operations(None, None, None, 2, "not a cursor!")


# -- migrations ----------------------------------------------------------------------------------


async def test_migrations_apply_once(tmp_path: Path) -> None:
    journal = SqlJournal(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert await journal.upgrade() == [
            "0001_journal.sql",
            "0002_access.sql",
            "0003_webhooks.sql",
        ]
        assert await journal.upgrade() == []
    finally:
        await journal.close()
    reopened = SqlJournal(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert await reopened.upgrade() == []
    finally:
        await reopened.close()


def _declared(table: sa.Table) -> dict[str, Any]:
    unique = {tuple(sorted(c.name for c in con.columns))
              for con in table.constraints if isinstance(con, sa.UniqueConstraint)}  # fmt: skip
    unique |= {(c.name,) for c in table.columns if c.unique}
    return {
        "columns": {
            c.name: (str(c.type.compile(dialect=SQLITE)), c.nullable) for c in table.columns
        },
        "primary_key": sorted(c.name for c in table.primary_key.columns),
        "unique": sorted(unique),
        "indexes": sorted((i.name, [c.name for c in i.columns]) for i in table.indexes),
        "foreign_keys": sorted(
            (fk.parent.name, fk.column.table.name, fk.column.name) for fk in table.foreign_keys
        ),
    }


def _migrated(inspector: sa.Inspector, name: str) -> dict[str, Any]:
    """What SQLite holds. An inline ``UNIQUE`` shows only as an automatic index, and an
    ``INTEGER PRIMARY KEY`` (the rowid) as nullable though it never is."""
    primary_key = sorted(inspector.get_pk_constraint(name)["constrained_columns"])
    indexes = inspector.get_indexes(name, include_auto_indexes=True)
    unique = {tuple(sorted(u["column_names"])) for u in inspector.get_unique_constraints(name)}
    unique |= {tuple(sorted(c for c in i["column_names"] if c)) for i in indexes
               if i["unique"] and i["name"].startswith("sqlite_autoindex_")}  # fmt: skip
    unique -= {tuple(primary_key)}  # a composite primary key has its own automatic index
    return {
        "columns": {
            c["name"]: (str(c["type"]), c["nullable"] and c["name"] not in primary_key)
            for c in inspector.get_columns(name)
        },
        "primary_key": primary_key,
        "unique": sorted(unique),
        "indexes": sorted(
            (i["name"], i["column_names"])
            for i in indexes
            if not i["name"].startswith("sqlite_autoindex_")
        ),
        "foreign_keys": sorted(
            (col, fk["referred_table"], ref)
            for fk in inspector.get_foreign_keys(name)
            for col, ref in zip(fk["constrained_columns"], fk["referred_columns"], strict=True)
        ),
    }


async def test_the_migrated_schema_is_the_declared_schema(journal: SqlJournal) -> None:
    inspector = sa.inspect(journal.engine)
    assert sorted(inspector.get_table_names()) == sorted(metadata.tables)
    for name, table in metadata.tables.items():
        assert _migrated(inspector, name) == _declared(table), name


async def test_a_lease_is_extended_only_by_the_worker_holding_it(journal: SqlJournal) -> None:
    op, _ = await journal.create(operation("key-1"))
    assert await journal.claim("w1", T0, LEASE) is not None
    later = T0 + timedelta(seconds=LEASE * 2)
    assert not await journal.extend_lease(op.id, "w2", later)
    assert await journal.extend_lease(op.id, "w1", later)
    assert await journal.claim("w2", T0 + timedelta(seconds=LEASE + 1), LEASE) is None
    assert await journal.claim("w2", later + timedelta(seconds=1), LEASE) is not None
