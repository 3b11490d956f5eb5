"""The gateway's Prometheus metrics, served at ``GET /metrics``.

One registry per app (``METRICS``), never prometheus_client's global one: tests build many apps
in one process, and two apps must not add to each other's counters. Each instrumented place
(the middleware below, the Partner Center client, the throttles) is handed this object
explicitly; none reaches for it through a global.

``/metrics`` is public, like ``/openapi.json``: it shows aggregate numbers only. No label holds a
tenant, customer, subscription, operation or marketplace: routes are templates
(``/v1/operations/{operation_id}``), never raw paths, which also keeps the number of series bounded.

Operations by status and the queue depth are read from the journal when scraped, with one
``GROUP BY`` (both dialects), not kept as counters: the journal is the truth, shared by every
replica and kept across restarts, where a counter would see only this process's changes since it
started. So every replica reports the same database-wide figures: aggregate them with ``max``,
not ``sum``. Everything else (requests, upstream calls, retries, throttle waits, busy workers)
is this process's own: ``sum`` those. The census is one scan of the ``operations_due`` index:
about 35 ms a scrape at 200,000 operations on SQLite (measured), where it runs on the event loop
like every SQLite journal call.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from adapters.storage.schema import operations
from contracts.partner_center.routes import ROUTES as PARTNER_CENTER_ROUTES
from gateway.journal import Status
from gateway.services import SERVICES
from gateway.upstream import PartnerCenterError, UpstreamUnavailable

if TYPE_CHECKING:
    from adapters.storage import SqlJournal

#: Northbound latency buckets, in seconds: a long-poll on an operation holds its request for up to
#: a minute, so the buckets go past prometheus_client's default top of 10 s.
_NORTHBOUND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_UPSTREAM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
#: The route label of a request no route matched (a 404 or 405): one series, whatever the path.
UNMATCHED = "unmatched"
#: The route label of an upstream call outside the Partner Center route table.
OTHER = "other"
#: The code label of an upstream call that got no answer at all.
NO_ANSWER = "connection_error"


class RouteTemplates:
    """Raw Partner Center paths to their route templates, from the contract's route table.

    A path matches a template of as many segments whose literal segments all equal the path's
    (case-insensitively, as Partner Center's paths are); of several, the one with the most literal
    segments wins, so ``/v1/customers/validate`` would beat ``/v1/customers/{customer}``."""

    def __init__(self, templates: Iterable[str]) -> None:
        self._by_length: dict[int, list[tuple[tuple[str | None, ...], str]]] = {}
        for template in dict.fromkeys(templates):
            parts = tuple(
                None if part.startswith("{") else part.lower()
                for part in template.strip("/").split("/")
            )
            self._by_length.setdefault(len(parts), []).append((parts, template))
        for candidates in self._by_length.values():
            candidates.sort(key=lambda item: -sum(part is not None for part in item[0]))

    def template(self, path: str) -> str:
        parts = path.split("?", 1)[0].strip("/").lower().split("/")
        for pattern, template in self._by_length.get(len(parts), ()):
            if all(want is None or want == got for want, got in zip(pattern, parts, strict=True)):
                return template
        return OTHER


_PARTNER_CENTER = RouteTemplates(route.path for route in PARTNER_CENTER_ROUTES)

_O = operations.c
_NOW = sa.bindparam("now", type_=_O.run_after.type)
_UNFINISHED = [status.value for status in Status if not status.finished]
#: Operations by status, and how many of each are in the queue: one scan. The status test comes
#: first, so a finished operation (most rows, in time) is judged on the ``operations_due`` index.
_CENSUS = sa.select(
    _O.status,
    sa.func.count(),
    sa.func.sum(
        sa.case(
            (sa.and_(_O.status.in_(_UNFINISHED), _O.run_after <= _NOW,
                     sa.or_(_O.lease_until.is_(None), _O.lease_until < _NOW)), 1),
            else_=0,
        )
    ),
).group_by(_O.status)  # fmt: skip


def census(conn: sa.Connection, now: datetime) -> tuple[dict[str, int], int]:
    """Operations by status, and the queue depth: unfinished operations due at ``now`` that no
    live lease holds (what the claimer would take next)."""
    by_status: dict[str, int] = {}
    depth = 0
    for status, count, due in conn.execute(_CENSUS, {"now": now}):
        by_status[status] = int(count)
        depth += int(due or 0)
    return by_status, depth


class GatewayMetrics:
    """The gateway's metrics, on a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "pcgw_http_requests", "Northbound requests answered, by route template and status",
            ["method", "route", "status"], registry=r,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "pcgw_http_request_duration_seconds", "Northbound request latency",
            ["method", "route"], buckets=_NORTHBOUND_BUCKETS, registry=r,
        )  # fmt: skip
        self.upstream = Counter(
            "pcgw_upstream_requests",
            "Partner Center calls (each attempt), by route template and HTTP status, or "
            f"{NO_ANSWER} when none came back",
            ["method", "route", "code"], registry=r,
        )  # fmt: skip
        self.upstream_seconds = Histogram(
            "pcgw_upstream_request_duration_seconds", "Partner Center call latency (each attempt)",
            ["method", "route"], buckets=_UPSTREAM_BUCKETS, registry=r,
        )  # fmt: skip
        self.retries = Counter(
            "pcgw_upstream_retries",
            "Partner Center calls asked again, by the answer that made them retry",
            ["method", "route", "reason"], registry=r,
        )  # fmt: skip
        self.throttle_waits = Counter(
            "pcgw_throttle_waits", "Times a call slept for a slot of the gateway's throttle",
            registry=r,
        )  # fmt: skip
        self.throttle_wait_seconds = Counter(
            "pcgw_throttle_wait_seconds", "Seconds calls slept for a slot of the throttle",
            registry=r,
        )  # fmt: skip
        self.throttle_refusals = Counter(
            "pcgw_throttle_refusals",
            "Calls failed at once as a 429 of the gateway's own: no slot within max_retry_after",
            registry=r,
        )  # fmt: skip
        self.operations = Gauge(
            "pcgw_operations", "Operations in the journal by status (database-wide)",
            ["status"], registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "pcgw_queue_depth",
            "Unfinished operations due now that no worker holds (database-wide)",
            registry=r,
        )  # fmt: skip
        self.workers_busy = Gauge(
            "pcgw_workers_busy", "This process's workers running an operation now", registry=r
        )
        self.workers_capacity = Gauge(
            "pcgw_workers_capacity", "This process's workers (PCGW_WORKERS)", registry=r
        )
        #: The journal the census reads; set while the app's resources are open.
        self.journal: SqlJournal | None = None

    # -- the instrumented places call these ----------------------------------------------------

    def upstream_answered(self, method: str, path: str, status: int | None, seconds: float) -> None:
        """One attempt: its HTTP status, or ``None`` when no answer came back."""
        route = _PARTNER_CENTER.template(path)
        self.upstream.labels(method, route, NO_ANSWER if status is None else str(status)).inc()
        self.upstream_seconds.labels(method, route).observe(seconds)

    def upstream_retried(self, method: str, path: str, exc: BaseException | None) -> None:
        if isinstance(exc, PartnerCenterError):  # UnreadableAnswer too: it keeps its status
            reason = str(exc.status)
        elif isinstance(exc, UpstreamUnavailable):
            reason = NO_ANSWER
        else:
            reason = "other"
        self.retries.labels(method, _PARTNER_CENTER.template(path), reason).inc()

    def throttle_waited(self, seconds: float) -> None:
        self.throttle_waits.inc()
        self.throttle_wait_seconds.inc(seconds)

    def throttle_refused(self) -> None:
        self.throttle_refusals.inc()

    # -- scrape --------------------------------------------------------------------------------

    async def read_state(self, app: web.Application) -> None:
        """The gauges read at scrape time: the workers, and the journal's census."""
        held = app[SERVICES].services
        if held is None:
            return
        self.workers_busy.set(held.workers.busy)
        self.workers_capacity.set(held.settings.workers)
        journal = self.journal
        if journal is None:
            return
        now = held.clock()
        by_status, due = await journal.run(lambda conn: census(conn, now))
        for status in Status:
            self.operations.labels(status.value).set(by_status.get(status.value, 0))
        self.queue_depth.set(due)


METRICS = web.AppKey("metrics", GatewayMetrics)


def route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return UNMATCHED if resource is None else resource.canonical


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost, so it sees the status the error middleware settled on, and the whole time."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect the error middleware lets through
        _count(request, exc.status, started)
        raise
    _count(request, response.status, started)
    return response


def _count(request: web.Request, status: int, started: float) -> None:
    metrics = request.app[METRICS]
    route = route_of(request)
    metrics.requests.labels(request.method, route, str(status)).inc()
    metrics.request_seconds.labels(request.method, route).observe(time.perf_counter() - started)


async def scrape(request: web.Request) -> web.Response:
    """``GET /metrics`` in the exposition format the scraper asks for (OpenMetrics or text)."""
    metrics = request.app[METRICS]
    await metrics.read_state(request.app)
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encoder(metrics.registry), headers={"Content-Type": content_type})
