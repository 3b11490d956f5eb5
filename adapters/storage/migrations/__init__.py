"""Numbered SQL files per dialect, applied in order; ``schema_version`` records what ran."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

import sqlalchemy as sa

from adapters.storage.schema import schema_version

_VERSION_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
    "name VARCHAR(200) NOT NULL, applied_at DATETIME NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
    "name VARCHAR(200) NOT NULL, applied_at TIMESTAMP WITH TIME ZONE NOT NULL)",
}


def available(dialect: str) -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` for every migration file of ``dialect``, in order."""
    folder = resources.files("adapters.storage.migrations").joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text()))
    return sorted(found)


def upgrade(conn: sa.Connection) -> list[str]:
    """Apply what is missing, each file in the caller's transaction; returns the names applied."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # Replicas starting together on an empty database take turns (released at commit).
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(715517)")
    conn.exec_driver_sql(_VERSION_TABLE[dialect])
    done = {row[0] for row in conn.execute(sa.select(schema_version.c.version))}
    applied = []
    for number, name, sql in available(dialect):
        if number in done:
            continue
        for statement in (s.strip() for s in sql.split(";")):
            if statement and not all(line.startswith("--") for line in statement.splitlines()):
                conn.exec_driver_sql(statement)
        conn.execute(
            sa.insert(schema_version).values(
                version=number, name=name, applied_at=datetime.now(UTC)
            )
        )
        applied.append(name)
    return applied
