"""Fixtures for the scaled-out shape: a throwaway PostgreSQL database and a clean Redis.

Both servers are optional: a test that needs one skips, with the reason, when it is unreachable,
so the default path (SQLite, no Redis) never needs them. Point elsewhere with ``PCGW_TEST_PG``
(a server URL, no database) and ``PCGW_TEST_REDIS`` (a URL whose database number is reserved
for tests: it is flushed before and after each test).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

# The gateway on the in-process simulator (``sim``, ``make_gateway``, ...), for end-to-end tests.
from tests.gateway.conftest import make_gateway, sim, sim_http, sim_url  # noqa: F401

PG_SERVER = os.environ.get("PCGW_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("PCGW_TEST_REDIS", "redis://127.0.0.1:6379/15")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = f"pcgw_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=2)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at {PG_SERVER}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_SERVER}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A Redis database number reserved for tests, empty at the start and end of the test."""
    redis = pytest.importorskip("redis.asyncio")
    errors = pytest.importorskip("redis.exceptions")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (OSError, errors.RedisError) as exc:
        await client.aclose()
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
    await client.flushdb()
    try:
        yield REDIS_URL
    finally:
        await client.flushdb()
        await client.aclose()
