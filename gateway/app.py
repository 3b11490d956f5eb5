"""The gateway's aiohttp application: the northbound API plus the workers, with every resource
(journal, Partner Center session, workers) opened and closed in one ``cleanup_ctx``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from adapters.partner_center import PartnerCenterClient, RetryPolicy, TokenProvider
from adapters.storage import SqlJournal
from gateway import api
from gateway.api.errors import middleware
from gateway.cache import TtlCache
from gateway.catalog import Catalog
from gateway.clock import Clock, system_clock
from gateway.services import SERVICES, Holder, Services
from gateway.settings import GatewaySettings
from gateway.throttle import LocalThrottle, Throttle
from gateway.worker import Workers
from gateway.workflows.engine import Caches


def create_app(
    settings: GatewaySettings | None = None, *, clock: Clock = system_clock
) -> web.Application:
    settings = settings or GatewaySettings.from_env()
    app = web.Application(middlewares=[middleware], client_max_size=256 * 1024)
    app[SERVICES] = Holder()
    api.add_routes(app.router)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        journal = SqlJournal(settings.database_url)
        await journal.upgrade()
        if journal.dialect == "sqlite":
            await journal.release_all()  # one process owns a SQLite file: every lease is stale
        # A worker makes one call at a time, so a connection per worker (and a few for the
        # token and the northbound reads) means no call queues for a connection (bench_scaleout,
        # 512 workers: a pool of 100 held SQLite at 123 purchases/s, this one 142).
        connections = max(100, settings.workers + 16)
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=settings.pc_timeout, sock_connect=10),
            connector=aiohttp.TCPConnector(limit=connections, limit_per_host=connections),
        )
        tokens = TokenProvider(
            session,
            settings.pc_login_url,
            settings.pc_tenant_id,
            settings.pc_client_id,
            settings.pc_client_secret.get_secret_value(),
            settings.pc_resource,
        )
        policy = RetryPolicy(
            attempts=settings.pc_retry_attempts,
            backoff=settings.pc_retry_backoff_seconds,
            jitter=settings.pc_retry_jitter_seconds,
            max_retry_after=settings.pc_max_retry_after_seconds,
        )
        throttle = _throttle(settings)
        pc = PartnerCenterClient(
            session,
            settings.pc_base_url,
            tokens,
            policy,
            throttle=throttle,
            tenant_id=settings.pc_tenant_id,
        )
        reads = PartnerCenterClient(
            session,
            settings.pc_base_url,
            tokens,
            RetryPolicy(
                attempts=2,
                max_delay=10.0,
                max_retry_after=2.0,
                backoff=settings.pc_retry_backoff_seconds,
                jitter=settings.pc_retry_jitter_seconds,
            ),
            throttle=throttle,
            tenant_id=settings.pc_tenant_id,
        )
        caches = Caches(
            TtlCache(settings.catalog_ttl_seconds), TtlCache(settings.reseller_ttl_seconds)
        )
        workers = Workers(journal, pc, settings, caches, clock)
        app[SERVICES].services = Services(
            settings, journal, pc, workers, caches, Catalog(reads, caches.catalog), clock, reads
        )
        workers.start()
        try:
            yield
        finally:
            await workers.stop()
            app[SERVICES].services = None
            await session.close()
            await throttle.close()
            await journal.close()

    app.cleanup_ctx.append(resources)
    return app


def _throttle(settings: GatewaySettings) -> Throttle:
    """Shared by every replica through Redis when there is one, else this process's own."""
    if settings.redis_url:
        from adapters.throttle import RedisThrottle  # only the scaled-out shape needs redis

        return RedisThrottle(
            settings.redis_url, settings.pc_rate_limit_per_minute, burst=settings.throttle_burst
        )
    return LocalThrottle(settings.pc_rate_limit_per_minute, burst=settings.throttle_burst)
