"""The gateway's aiohttp application: the northbound API plus the workers, with every resource
(journal, Partner Center session, workers) opened and closed in one ``cleanup_ctx``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web

from adapters.partner_center import PartnerCenterClient, RetryPolicy, TokenProvider
from adapters.storage import SqlAccess, SqlJournal, SqlWebhooks
from gateway import api
from gateway.api.auth import ACCESS, Access, authenticate
from gateway.api.errors import MAX_BODY, middleware
from gateway.cache import TtlCache
from gateway.catalog import Catalog
from gateway.clock import Clock, system_clock
from gateway.metrics import METRICS, GatewayMetrics
from gateway.metrics import middleware as metrics_middleware
from gateway.services import SERVICES, Holder, Services
from gateway.settings import GatewaySettings
from gateway.throttle import LocalThrottle, Throttle
from gateway.webhooks.delivery import Deliverer
from gateway.worker import Workers
from gateway.workflows.engine import Caches

log = structlog.get_logger("gateway.app")


def create_app(
    settings: GatewaySettings | None = None, *, clock: Clock = system_clock
) -> web.Application:
    settings = settings or GatewaySettings.from_env()
    app = web.Application(
        middlewares=[metrics_middleware, middleware, authenticate],
        client_max_size=settings.max_body_bytes,
    )
    app[METRICS] = metrics = GatewayMetrics()  # this app's own registry (gateway.metrics)
    app[MAX_BODY] = settings.max_body_bytes
    app[SERVICES] = Holder()
    app[ACCESS] = Access(settings.auth, clock)
    api.add_routes(app.router)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        journal = SqlJournal(settings.database_url)
        await journal.upgrade()
        if journal.dialect == "sqlite":
            await journal.release_all()  # one process owns a SQLite file: every lease is stale
        access = SqlAccess(journal)
        if settings.auth == "keys" and not await access.any_keys():
            log.warning("auth.no_keys", hint="every call is refused (401) until "
                        "`pcgw keys create <marketplace>` makes a key")  # fmt: skip
        app[ACCESS].store = access
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
        throttle = _throttle(settings, metrics)
        pc = PartnerCenterClient(
            session,
            settings.pc_base_url,
            tokens,
            policy,
            throttle=throttle,
            tenant_id=settings.pc_tenant_id,
            max_body=settings.pc_max_response_bytes,
            metrics=metrics,
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
            max_body=settings.pc_max_response_bytes,
            metrics=metrics,
        )
        caches = Caches(
            TtlCache(settings.catalog_ttl_seconds), TtlCache(settings.reseller_ttl_seconds)
        )
        workers = Workers(journal, pc, settings, caches, clock)
        app[SERVICES].services = Services(
            settings, journal, pc, workers, caches, Catalog(reads, caches.catalog), clock, reads
        )
        deliverer = Deliverer(SqlWebhooks(journal), settings, clock)  # operation events out
        await deliverer.open()
        journal.on_outbox = deliverer.wake
        workers.start()
        metrics.journal = journal  # read at scrape time (operations by status, queue depth)
        try:
            yield
        finally:
            metrics.journal = None
            await workers.stop()
            await deliverer.stop()
            app[SERVICES].services = None
            app[ACCESS].store = None
            await session.close()
            await throttle.close()
            await journal.close()

    async def drain(app: web.Application) -> None:
        """At shutdown's first moment (aiohttp runs ``on_shutdown`` before it waits for open
        requests and long before cleanup), so workers stop claiming the instant SIGTERM lands."""
        held = app[SERVICES].services
        if held is not None:
            await held.workers.stop()

    app.cleanup_ctx.append(resources)
    app.on_shutdown.append(drain)
    return app


def _throttle(settings: GatewaySettings, metrics: GatewayMetrics) -> Throttle:
    """Shared by every replica through Redis when there is one, else this process's own."""
    if settings.redis_url:
        from adapters.throttle import RedisThrottle  # only the scaled-out shape needs redis

        return RedisThrottle(
            settings.redis_url,
            settings.pc_rate_limit_per_minute,
            burst=settings.throttle_burst,
            metrics=metrics,
        )
    return LocalThrottle(
        settings.pc_rate_limit_per_minute, burst=settings.throttle_burst, metrics=metrics
    )
