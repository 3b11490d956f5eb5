"""The simulator's Prometheus metrics, served at ``GET /metrics`` (an extension: Partner Center
has no such route, and none of its routes is ``/metrics``).

The request pipeline is the simulator's hot path (``bench/bench_simulator.py``), so it only bumps
plain counts in a dict, keyed by the route's aiohttp resource (one object per route, so the key
space is bounded by the route table, not by ids in paths); they become Prometheus families only
when scraped. The world's sizes and the simulated clock are read at scrape time too. One
registry per app (``METRICS``): tests build many apps in one process.

Counters outlive ``POST /_sim/reset`` (Prometheus counters only go up); the request journal
(``GET /_sim/requests``) does not, and keeps the last 10,000 ``/v1`` calls only, so the two agree
on ``/v1`` traffic since the last reset, within that bound. Unlike the journal, the counters also
cover ``/_sim``, sign-in, ``/metrics`` and connections a fault dropped (status ``dropped``).
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from simulator.context import SIMULATOR, Simulator
from simulator.faults import FaultSpec

#: The status counted for a connection a ``reset`` fault dropped: no status was ever sent.
DROPPED = 0
#: The route label of a request no route matched (404/405): one series, whatever the path.
UNMATCHED = "unmatched"
#: The statuses a subscription can have (``simulator.models.Subscription``), shown even at zero.
SUBSCRIPTION_STATUSES = ("active", "suspended", "expired", "disabled", "deleted")


def fault_kind(spec: FaultSpec) -> str:
    """What a fault did to the call; a ``latencyMs`` beside another effect counts as that one."""
    if spec.reset:
        return "reset"
    if spec.reset_after:
        return "reset_after"
    if spec.body is not None:
        return "body"
    if spec.status is not None:
        return "status"
    return "latency"


class SimulatorMetrics:
    """Counts kept by the pipeline, and the collector that turns them (and the world) into
    metric families when scraped."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        #: (method, route resource or None, status or DROPPED) -> answers.
        self.requests: dict[tuple[str, AbstractResource | None, int], int] = {}
        #: (kind, status or "") -> faults fired.
        self.faults: dict[tuple[str, str], int] = {}
        self.rate_limited = 0
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def fault_fired(self, spec: FaultSpec) -> None:
        key = (fault_kind(spec), "" if spec.status is None else str(spec.status))
        self.faults[key] = self.faults.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "pcsim_http_requests", "Requests answered, by route template and status "
            "(dropped: a fault closed the connection instead)", labels=["method", "route", "status"],
        )  # fmt: skip
        for (method, resource, status), count in list(self.requests.items()):
            route = UNMATCHED if resource is None else resource.canonical
            shown = "dropped" if status == DROPPED else str(status)
            requests.add_metric([method, route, shown], count)
        yield requests
        faults = CounterMetricFamily(
            "pcsim_faults_fired", "Injected faults that fired, by what they did "
            "(reset, reset_after, body, status, latency) and the status they answered",
            labels=["kind", "status"],
        )  # fmt: skip
        for (kind, answered), fired in list(self.faults.items()):
            faults.add_metric([kind, answered], fired)
        yield faults
        yield CounterMetricFamily(
            "pcsim_rate_limited", "Calls refused with 429 by the per-partner rate limit",
            value=self.rate_limited,
        )  # fmt: skip
        world = self._sim.world
        for name, doc, size in (
            ("pcsim_partners", "Partners in the world", len(world.partners)),
            ("pcsim_customers", "Customers in the world", len(world.customers)),
            ("pcsim_orders", "Orders in the world", len(world.orders)),
            ("pcsim_transfers", "Transfers in the world", len(world.transfers)),
        ):
            yield GaugeMetricFamily(name, doc, value=size)
        by_status = dict.fromkeys(SUBSCRIPTION_STATUSES, 0)
        for subscription in world.subscriptions.values():
            by_status[subscription.status] = by_status.get(subscription.status, 0) + 1
        subscriptions = GaugeMetricFamily(
            "pcsim_subscriptions", "Subscriptions in the world by status", labels=["status"]
        )
        for state, held in by_status.items():
            subscriptions.add_metric([state], held)
        yield subscriptions
        yield GaugeMetricFamily(
            "pcsim_clock_seconds", "The simulated clock, as unix seconds",
            value=world.now.timestamp(),
        )  # fmt: skip


METRICS = web.AppKey("metrics", SimulatorMetrics)


def install(app: web.Application) -> None:
    """Give the app its metrics and their route; after ``app[SIMULATOR]`` is set."""
    app[METRICS] = SimulatorMetrics(app[SIMULATOR])
    app.router.add_get("/metrics", scrape)


async def scrape(request: web.Request) -> web.Response:
    """``GET /metrics`` in the exposition format the scraper asks for (OpenMetrics or text)."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": content_type})
