"""The journal's tables, declared once for SQLAlchemy Core. The migrations under
``migrations/<dialect>/`` create exactly this; a test compares the two."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, whatever the driver keeps (SQLite keeps naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the journal")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

operations = sa.Table(
    "operations",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("error", sa.JSON),
    sa.Column("action", sa.JSON),
    sa.Column("secrets", sa.JSON),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("run_after", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", UtcDateTime),
    #: What a waiting operation waits on (``gateway.webhooks.outbox.waiting_on``): a Partner
    #: Center event naming it makes the operation due at once (migration 0003).
    sa.Column("waiting_on", sa.String(200)),
    sa.UniqueConstraint("owner", "idempotency_key", name="operations_owner_key"),
)
sa.Index("operations_due", operations.c.status, operations.c.run_after)
sa.Index("operations_waiting", operations.c.waiting_on)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("operation_id", sa.String(36), sa.ForeignKey("operations.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("ms_request_id", sa.String(36), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("output", sa.JSON, nullable=False),
    sa.Column("error", sa.JSON),
)

#: One key per marketplace; ``name`` is the marketplace, and the ``owner`` of its operations.
#: Only SHA-256 hashes are kept (``gateway.keys`` says why that suffices); ``previous_hash``
#: stays valid until ``previous_until`` after a rotation with a grace period.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("prefix", sa.String(20), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("previous_hash", sa.String(64), unique=True),
    sa.Column("previous_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("rotated_at", UtcDateTime),
    sa.Column("revoked_at", UtcDateTime),
)

#: A customer may be served by several marketplaces (each one whose operation created or found
#: it, or an operator's ``pcgw keys assign``); ``operation_id`` is null for an assignment.
customer_owners = sa.Table(
    "customer_owners",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(100), primary_key=True),
    sa.Column("operation_id", sa.String(36), sa.ForeignKey("operations.id")),
)

#: A subscription has one owner at most: the first marketplace whose operation bought, brought
#: in or changed it.
subscription_owners = sa.Table(
    "subscription_owners",
    metadata,
    sa.Column("subscription_id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("operation_id", sa.String(36), sa.ForeignKey("operations.id")),
)

#: Where a marketplace gets its operation events, and the key they are signed with (kept as
#: it is: the gateway must sign with it, so a hash would not do).
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("owner", sa.String(100), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

#: Operation events for marketplaces, written in the transaction that changes the operation's
#: status; ``status`` is ``pending`` (to send, or to retry at ``next_attempt_at``),
#: ``delivered`` or ``failed`` (gave up). Claimed with a lease, as operations are.
webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("operation_id", sa.String(36), sa.ForeignKey("operations.id"), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.String(500)),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", UtcDateTime),
)
sa.Index("webhook_outbox_due", webhook_outbox.c.status, webhook_outbox.c.next_attempt_at)
sa.Index("webhook_outbox_operation", webhook_outbox.c.operation_id, webhook_outbox.c.seq)
sa.Index("webhook_outbox_owner", webhook_outbox.c.owner, webhook_outbox.c.seq)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)
