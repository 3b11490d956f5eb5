"""Webhook endpoints and the outbox of operation events (``gateway.webhooks.outbox``) on the
journal's database, through the journal's own connections and transactions.

Events are written by :func:`record_event`, inside the journal transaction that changes the
operation's status, so the event and the change commit (or roll back) together. They are
claimed like operations: a lease per row, and on PostgreSQL ``FOR UPDATE SKIP LOCKED`` so that
replicas claiming at once take different rows; an event is never claimed while an earlier event
of the same operation is still pending, so one operation's events reach the marketplace in order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from adapters.storage.schema import UtcDateTime, operations, webhook_endpoints, webhook_outbox
from gateway.journal import Operation
from gateway.webhooks.outbox import Delivery, Endpoint, operation_event

if TYPE_CHECKING:
    from adapters.storage.sql_journal import SqlJournal

_O, _E, _X = operations.c, webhook_endpoints.c, webhook_outbox.c
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
_NOW = sa.bindparam("now", type_=UtcDateTime)


def _record(guarded: bool) -> Any:
    """``INSERT … SELECT`` from the owner's endpoint: no endpoint, no row. Guarded, it also
    needs the stored status to differ from the new one (run before the operation's UPDATE)."""
    values = sa.select(
        sa.bindparam("id", type_=_X.id.type),
        _E.owner,
        sa.bindparam("op", type_=_X.operation_id.type),
        sa.bindparam("type", type_=_X.type.type),
        sa.bindparam("payload", type_=_X.payload.type),
        sa.literal(PENDING, _X.status.type),
        sa.literal(0, _X.attempts.type),
        _NOW,
        _NOW,
    ).where(_E.owner == sa.bindparam("owner"))
    if guarded:
        values = values.where(
            ~sa.exists().where(_O.id == sa.bindparam("op"), _O.status == sa.bindparam("status"))
        )
    columns = ["id", "owner", "operation_id", "type", "payload", "status", "attempts",
               "next_attempt_at", "created_at"]  # fmt: skip
    return sa.insert(webhook_outbox).from_select(columns, values).returning(_X.id)


_RECORD = {True: _record(True), False: _record(False)}


def record_event(conn: sa.Connection, op: Operation, now: datetime, *, guarded: bool) -> bool:
    """Write ``op``'s event if its owner has an endpoint (and, ``guarded``, if its status is a
    change); whether a row was written."""
    event = operation_event(op, now)
    params = {"id": event.id, "op": op.id, "type": event.type, "payload": event.payload,
              "now": now, "owner": op.owner, "status": op.status.value}  # fmt: skip
    return conn.execute(_RECORD[guarded], params).first() is not None


def release_deliveries(conn: sa.Connection) -> None:
    """End every delivery lease (with the journal's ``release_all``: a single process owning
    its SQLite file starts, so whoever held them is gone)."""
    conn.execute(
        sa.update(webhook_outbox)
        .where(_X.lease_owner.is_not(None))
        .values(lease_owner=None, lease_until=None)
    )


def _claim(dialect: str) -> Any:
    earlier = webhook_outbox.alias("earlier")
    due = (
        sa.select(_X.seq)
        .where(
            _X.status == PENDING,
            _X.next_attempt_at <= _NOW,
            sa.or_(_X.lease_until.is_(None), _X.lease_until < _NOW),
            ~sa.exists().where(
                earlier.c.operation_id == _X.operation_id,
                earlier.c.seq < _X.seq,
                earlier.c.status == PENDING,
            ),
        )
        .order_by(_X.seq)
        .limit(sa.bindparam("limit"))
    )
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True, of=webhook_outbox)
    return (
        sa.update(webhook_outbox)
        .where(_X.seq.in_(due.scalar_subquery()))
        .values(
            lease_owner=sa.bindparam("worker"),
            lease_until=sa.bindparam("until", type_=UtcDateTime),
        )
        .returning(*webhook_outbox.c)
    )


def _delivery(row: sa.Row[Any], endpoint: Endpoint | None = None) -> Delivery:
    return Delivery(
        id=row.id, owner=row.owner, operation_id=row.operation_id, type=row.type,
        payload=row.payload, status=row.status, attempts=row.attempts,
        next_attempt_at=row.next_attempt_at, created_at=row.created_at,
        finished_at=row.finished_at, last_status=row.last_status, last_error=row.last_error,
        url=endpoint.url if endpoint else None, secret=endpoint.secret if endpoint else None,
    )  # fmt: skip


def _endpoint(row: sa.Row[Any]) -> Endpoint:
    return Endpoint(row.owner, row.url, row.secret, row.created_at, row.updated_at)


def _finish(**values: Any) -> Any:
    """One attempt's outcome: the lease ends and the attempt is counted."""
    return (
        sa.update(webhook_outbox)
        .where(_X.id == sa.bindparam("event"))
        .values(attempts=_X.attempts + 1, lease_owner=None, lease_until=None, **values)
    )


_DELIVERED = _finish(
    status=DELIVERED, finished_at=_NOW, last_status=sa.bindparam("code"), last_error=None
)
_RETRY = _finish(
    next_attempt_at=sa.bindparam("at", type_=UtcDateTime),
    last_status=sa.bindparam("code"),
    last_error=sa.bindparam("error"),
)
_GIVE_UP = _finish(
    status=FAILED, finished_at=_NOW, last_status=sa.bindparam("code"),
    last_error=sa.bindparam("error"),
)  # fmt: skip


class SqlWebhooks:
    """``gateway.webhooks.outbox.WebhookStore`` on the journal's database."""

    def __init__(self, journal: SqlJournal) -> None:
        self._journal = journal
        self._dialect = journal.dialect
        self._claim = _claim(self._dialect)

    async def set_endpoint(self, owner: str, url: str, secret: str | None, now: datetime) -> None:
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert

        def work(conn: sa.Connection) -> None:
            if secret is None:
                changed = conn.execute(
                    sa.update(webhook_endpoints)
                    .where(_E.owner == owner)
                    .values(url=url, updated_at=now)
                ).rowcount
                if not changed:
                    raise LookupError(owner)
                return
            statement = insert(webhook_endpoints).values(
                owner=owner, url=url, secret=secret, created_at=now, updated_at=now
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["owner"],
                    set_={"url": url, "secret": secret, "updated_at": now},
                )
            )

        await self._journal.run(work)

    async def endpoint(self, owner: str) -> Endpoint | None:
        def work(conn: sa.Connection) -> Endpoint | None:
            row = conn.execute(sa.select(webhook_endpoints).where(_E.owner == owner)).one_or_none()
            return _endpoint(row) if row is not None else None

        return await self._journal.run(work)

    async def remove_endpoint(self, owner: str, now: datetime) -> bool:
        def work(conn: sa.Connection) -> bool:
            removed = conn.execute(sa.delete(webhook_endpoints).where(_E.owner == owner)).rowcount
            if removed:
                conn.execute(
                    sa.update(webhook_outbox)
                    .where(_X.owner == owner, _X.status == PENDING)
                    .values(status=FAILED, finished_at=now, last_error="the endpoint was removed",
                            lease_owner=None, lease_until=None)
                )  # fmt: skip
            return bool(removed)

        return await self._journal.run(work)

    async def claim(
        self, worker: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[Delivery]:
        until = now + timedelta(seconds=lease_seconds)

        def work(conn: sa.Connection) -> list[Delivery]:
            rows = list(
                conn.execute(
                    self._claim, {"now": now, "until": until, "worker": worker, "limit": limit}
                )
            )
            if not rows:
                return []
            owners = {row.owner for row in rows}
            endpoints = {
                e.owner: _endpoint(e)
                for e in conn.execute(sa.select(webhook_endpoints).where(_E.owner.in_(owners)))
            }
            rows.sort(key=lambda row: row.seq)
            return [_delivery(row, endpoints.get(row.owner)) for row in rows]

        return await self._journal.run(work)

    async def _outcome(self, statement: Any, params: dict[str, Any]) -> None:
        def work(conn: sa.Connection) -> None:
            conn.execute(statement, params)

        await self._journal.run(work)

    async def delivered(self, event_id: str, now: datetime, status: int) -> None:
        await self._outcome(_DELIVERED, {"event": event_id, "now": now, "code": status})

    async def retry_at(
        self, event_id: str, now: datetime, at: datetime, status: int | None, error: str
    ) -> None:
        await self._outcome(
            _RETRY, {"event": event_id, "at": at, "code": status, "error": error[:500]}
        )

    async def give_up(self, event_id: str, now: datetime, status: int | None, error: str) -> None:
        await self._outcome(
            _GIVE_UP, {"event": event_id, "now": now, "code": status, "error": error[:500]}
        )

    async def recent(self, owner: str, limit: int) -> list[Delivery]:
        query = (
            sa.select(webhook_outbox)
            .where(_X.owner == owner, _X.status != DELIVERED)
            .order_by(_X.seq.desc())
            .limit(limit)
        )

        def work(conn: sa.Connection) -> list[Delivery]:
            return [_delivery(row) for row in conn.execute(query)]

        return await self._journal.run(work)

    async def counts(self, owner: str) -> dict[str, int]:
        query = sa.select(_X.status, sa.func.count()).where(_X.owner == owner).group_by(_X.status)

        def work(conn: sa.Connection) -> dict[str, int]:
            return {str(row[0]): int(row[1]) for row in conn.execute(query)}

        return await self._journal.run(work)

    async def prune(self, before: datetime) -> int:
        statement = sa.delete(webhook_outbox).where(
            _X.status.in_((DELIVERED, FAILED)), _X.finished_at < before
        )

        def work(conn: sa.Connection) -> int:
            return conn.execute(statement).rowcount

        return await self._journal.run(work)
