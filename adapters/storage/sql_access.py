"""API keys and ownership (``gateway.keys``, ``gateway.tenancy``) on the journal's database,
through the journal's own connections and transactions.

Ownership rows are written by :func:`record_claims`, inside the journal's ``save`` transaction
that stores the result naming them, so an operation never shows a customer or subscription its
marketplace cannot then read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from adapters.storage.schema import api_keys, customer_owners, subscription_owners
from gateway.keys import KeyInfo
from gateway.tenancy import Claims

if TYPE_CHECKING:
    from adapters.storage.sql_journal import SqlJournal

_K = api_keys.c
_BY_HASH = sa.select(_K.name).where(
    _K.revoked_at.is_(None),
    sa.or_(
        _K.key_hash == sa.bindparam("hash"),
        sa.and_(
            _K.previous_hash == sa.bindparam("hash"),
            _K.previous_until > sa.bindparam("now", type_=_K.previous_until.type),
        ),
    ),
)
_OWNS_CUSTOMER = sa.select(sa.literal(1)).where(
    customer_owners.c.customer_id == sa.bindparam("customer"),
    customer_owners.c.owner == sa.bindparam("owner"),
)
# Plain SQL for the journal's save path (as the journal's own step writes are): first owner of
# a subscription wins, a customer may have several.
_CLAIM_CUSTOMER = ("INSERT INTO customer_owners (customer_id, owner, operation_id) VALUES (?, ?, ?) "
                   "ON CONFLICT DO NOTHING")  # fmt: skip
_CLAIM_SUBSCRIPTION = ("INSERT INTO subscription_owners (subscription_id, owner, customer_id, "
                       "operation_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")  # fmt: skip
_PARAM = {"sqlite": "?", "postgresql": "%s"}


def record_claims(
    conn: sa.Connection, dialect: str, owner: str, op_id: str, claims: Claims
) -> None:
    mark = _PARAM[dialect]
    conn.exec_driver_sql(_CLAIM_CUSTOMER.replace("?", mark), (claims.customer_id, owner, op_id))
    if claims.subscription_ids:
        conn.exec_driver_sql(
            _CLAIM_SUBSCRIPTION.replace("?", mark),
            [(s, owner, claims.customer_id, op_id) for s in claims.subscription_ids],
        )


def _insert(dialect: str, table: sa.Table) -> Any:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _info(row: sa.Row[Any]) -> KeyInfo:
    return KeyInfo(row.name, row.prefix, row.created_at, row.rotated_at, row.revoked_at,
                   row.previous_until)  # fmt: skip


class SqlAccess:
    def __init__(self, journal: SqlJournal) -> None:
        self._journal = journal
        self._dialect = journal.dialect

    # -- keys ----------------------------------------------------------------------------------

    async def key_owner(self, key_hash: str, now: datetime) -> str | None:
        def work(conn: sa.Connection) -> str | None:
            return conn.execute(_BY_HASH, {"hash": key_hash, "now": now}).scalar()

        return await self._journal.run(work)

    async def any_keys(self) -> bool:
        def work(conn: sa.Connection) -> bool:
            return (
                conn.execute(sa.select(sa.literal(1)).select_from(api_keys).limit(1)).first()
                is not None
            )

        return await self._journal.run(work)

    async def insert_key(self, name: str, prefix: str, key_hash: str, now: datetime) -> bool:
        statement = (
            _insert(self._dialect, api_keys)
            .values(name=name, prefix=prefix, key_hash=key_hash, created_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(_K.name)
        )

        def work(conn: sa.Connection) -> bool:
            return conn.execute(statement).first() is not None

        return await self._journal.run(work)

    async def replace_key(
        self,
        name: str,
        prefix: str,
        key_hash: str,
        now: datetime,
        previous_until: datetime | None,
    ) -> bool:
        def work(conn: sa.Connection) -> bool:
            row = conn.execute(
                sa.select(_K.key_hash, _K.revoked_at).where(_K.name == name).with_for_update()
            ).one_or_none()
            if row is None:
                return False
            # A revoked key's old secret never comes back, grace or not.
            keep = previous_until is not None and row.revoked_at is None
            conn.execute(
                sa.update(api_keys)
                .where(_K.name == name)
                .values(prefix=prefix, key_hash=key_hash, rotated_at=now, revoked_at=None,
                        previous_hash=row.key_hash if keep else None,
                        previous_until=previous_until if keep else None)
            )  # fmt: skip
            return True

        return await self._journal.run(work)

    async def revoke_key(self, name: str, now: datetime) -> KeyInfo | None:
        def work(conn: sa.Connection) -> KeyInfo | None:
            row = conn.execute(
                sa.select(api_keys).where(_K.name == name).with_for_update()
            ).one_or_none()
            if row is not None and row.revoked_at is None:
                conn.execute(
                    sa.update(api_keys)
                    .where(_K.name == name)
                    .values(revoked_at=now, previous_hash=None, previous_until=None)
                )
            return None if row is None else _info(row)

        return await self._journal.run(work)

    async def list_keys(self) -> list[KeyInfo]:
        def work(conn: sa.Connection) -> list[KeyInfo]:
            return [_info(r) for r in conn.execute(sa.select(api_keys).order_by(_K.name))]

        return await self._journal.run(work)

    async def assign_customer(self, owner: str, customer_id: str) -> bool:
        statement = (
            _insert(self._dialect, customer_owners)
            .values(customer_id=customer_id, owner=owner, operation_id=None)
            .on_conflict_do_nothing()
            .returning(customer_owners.c.owner)
        )

        def work(conn: sa.Connection) -> bool:
            return conn.execute(statement).first() is not None

        return await self._journal.run(work)

    # -- ownership -----------------------------------------------------------------------------

    async def owns_customer(self, owner: str, customer_id: str) -> bool:
        def work(conn: sa.Connection) -> bool:
            found = conn.execute(_OWNS_CUSTOMER, {"customer": customer_id, "owner": owner})
            return found.first() is not None

        return await self._journal.run(work)

    async def subscription_owners(self, subscription_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(subscription_ids))
        if not ids:
            return {}
        query = sa.select(subscription_owners.c.subscription_id, subscription_owners.c.owner).where(
            subscription_owners.c.subscription_id.in_(ids)
        )

        def work(conn: sa.Connection) -> dict[str, str]:
            return {row.subscription_id: row.owner for row in conn.execute(query)}

        return await self._journal.run(work)
