"""The outbox and the wake-ups on the journal's database, SQLite and PostgreSQL alike: an event is
written with a change of status and only then, in its transaction; replicas claim events like
operations (each once at a time) and one operation's events in order; a Partner Center event
makes exactly the operations waiting on it due."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.storage import SqlJournal, SqlWebhooks
from adapters.storage.schema import webhook_outbox
from gateway.journal import Status, StepStatus
from tests.gateway.test_journal import LEASE, T0, operation, step
from tests.scaleout.conftest import pg_url  # noqa: F401

OWNER = "marketplace-a"
HOUR = 3600.0


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def journal(url: str) -> AsyncIterator[SqlJournal]:
    opened = SqlJournal(url)
    await opened.upgrade()
    try:
        yield opened
    finally:
        await opened.close()


async def outbox(journal: SqlJournal) -> list[tuple[str, str, str]]:
    def work(conn: sa.Connection) -> list[tuple[str, str, str]]:
        rows = conn.execute(
            sa.select(webhook_outbox.c.operation_id, webhook_outbox.c.type,
                      webhook_outbox.c.status).order_by(webhook_outbox.c.seq)
        )  # fmt: skip
        return [(r[0], r[1], r[2]) for r in rows]

    return await journal.run(work)


async def test_an_event_is_written_with_each_change_of_status_and_only_then(
    journal: SqlJournal,
) -> None:
    woken: list[int] = []
    journal.on_outbox = lambda: woken.append(1)
    hooks = SqlWebhooks(journal)
    op, _ = await journal.create(operation("k1", owner=OWNER))
    op.status = Status.RUNNING
    await journal.save(op.id, [step("create_customer", 0)], op)
    assert await outbox(journal) == []  # no endpoint: nothing to tell

    await hooks.set_endpoint(OWNER, "http://127.0.0.1:9/hooks", "whsec_0123456789abcdef", T0)
    await journal.save(op.id, [step("create_customer", 0, status=StepStatus.SUCCEEDED)], op)
    assert await outbox(journal) == []  # still running: not a change
    op.status = Status.ACTION_REQUIRED
    await journal.save(op.id, [], op, release=True)
    op.status = Status.SUCCEEDED
    await journal.save(op.id, [], op, release=True)
    assert await outbox(journal) == [
        (op.id, "operation.action_required", "pending"), (op.id, "operation.succeeded", "pending"),
    ]  # fmt: skip
    assert len(woken) == 2

    # A copy that does not know what is stored writes nothing when the status is the same.
    stale = await journal.get(op.id)
    assert stale is not None
    stale.stored_status = None
    await journal.save(op.id, [], stale)
    assert len(await outbox(journal)) == 2

    # A save that fails writes its event no more than its change.
    other, _ = await journal.create(operation("k2", owner=OWNER))
    other.status, other.updated_at = Status.RUNNING, datetime(2026, 1, 5, 9, 0)  # naive
    with pytest.raises((sa.exc.StatementError, ValueError)):
        await journal.save(other.id, [], other)
    assert [row[0] for row in await outbox(journal)] == [op.id, op.id]


async def test_a_dead_letter_and_an_operators_retry_are_events_too(journal: SqlJournal) -> None:
    hooks = SqlWebhooks(journal)
    await hooks.set_endpoint(OWNER, "http://127.0.0.1:9/hooks", "whsec_0123456789abcdef", T0)
    op, _ = await journal.create(operation("k1", owner=OWNER))
    await journal.claim("w1", T0, LEASE, max_attempts=1)  # its worker dies: the lease runs out
    later = T0 + timedelta(seconds=LEASE + 1)
    assert await journal.claim("w2", later, LEASE, max_attempts=1) is None  # dead-lettered
    _, put_back = await journal.retry(op.id, OWNER, later)
    assert put_back
    assert [row[1] for row in await outbox(journal)] == [
        "operation.dead_letter", "operation.accepted",
    ]  # fmt: skip


async def test_replicas_claim_each_event_once_and_one_operations_events_in_order(
    url: str, journal: SqlJournal
) -> None:
    replica = SqlJournal(url)
    try:
        a, b = SqlWebhooks(journal), SqlWebhooks(replica)
        await a.set_endpoint(OWNER, "http://127.0.0.1:9/hooks", "whsec_0123456789abcdef", T0)
        ops = []
        for n in range(6):
            op, _ = await journal.create(operation(f"k{n}", owner=OWNER))
            for status in (Status.RUNNING, Status.SUCCEEDED):
                op.status = status
                await journal.save(op.id, [], op, release=True)
            ops.append(op.id)
        now = datetime.now(T0.tzinfo)
        first, second = await asyncio.gather(
            a.claim("replica-a", now, HOUR, 4), b.claim("replica-b", now, HOUR, 4)
        )
        claimed = [d.operation_id for d in first + second]
        assert sorted(claimed) == sorted(ops)  # each operation's first event, each once
        assert {d.type for d in first + second} == {"operation.running"}
        assert all(d.url == "http://127.0.0.1:9/hooks" for d in first + second)
        assert await a.claim("replica-a", now, HOUR, 10) == []  # the rest wait behind them

        await a.delivered(first[0].id, now, 200)
        [following] = await b.claim("replica-b", now, HOUR, 10)
        assert (following.operation_id, following.type) == (
            first[0].operation_id, "operation.succeeded",
        )  # fmt: skip
        # A retried event keeps its operation's later ones back until it is settled.
        await b.retry_at(second[0].id, now, now + timedelta(hours=1), 500, "answered HTTP 500")
        assert await a.claim("replica-a", now + timedelta(minutes=1), HOUR, 10) == []
        await b.give_up(second[0].id, now, 500, "answered HTTP 500")
        [freed] = await a.claim("replica-a", now + timedelta(minutes=1), HOUR, 10)
        assert freed.operation_id == second[0].operation_id
        [failed] = [d for d in await a.recent(OWNER, 10) if d.status == "failed"]
        assert (failed.id, failed.attempts, failed.last_status) == (second[0].id, 2, 500)
    finally:
        await replica.close()


async def test_a_wake_makes_due_exactly_the_operations_waiting_on_its_keys(
    journal: SqlJournal,
) -> None:
    later = T0 + timedelta(hours=1)

    async def waiting(key: str, domain: str) -> str:
        op, _ = await journal.create(operation(key, request={"customer": {"existingTenant": {
            "domain": domain}}}))  # fmt: skip
        op.status, op.run_after = Status.ACTION_REQUIRED, later
        op.steps.append(step("find_customer", 0, status=StepStatus.WAITING))
        await journal.save(op.id, op.steps, op, release=True)
        return op.id

    contoso = await waiting("k1", "Contoso.onmicrosoft.com")
    fabrikam = await waiting("k2", "fabrikam.onmicrosoft.com")
    leased = await waiting("k3", "contoso.onmicrosoft.com")
    claimed = await journal.claim("w1", later, LEASE)  # the first due one is leased now
    assert claimed is not None

    assert await journal.wake(["customer:nobody.onmicrosoft.com"], T0) == []
    woken = await journal.wake(["customer:contoso.onmicrosoft.com"], T0)
    assert sorted(woken) == sorted({contoso, leased} - {claimed.id})
    again = await journal.wake(["customer:*"], T0)  # now due: a second wake finds only the rest
    assert sorted(again) == sorted({fabrikam} - {claimed.id})
    due = await journal.claim("w2", T0, LEASE)
    assert due is not None
    assert due.id != claimed.id
