"""Both apps' ``/metrics`` after real traffic: a purchase through the gateway against the
simulator, which answers one 429, one 500 and one dropped connection on the way. The gateway's
counters show each call by route template and answer, the retries, the throttle's waits and the
finished operation; the simulator's agree with its own request log, and with the gateway's."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

import aiohttp

from gateway.metrics import RouteTemplates
from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.metrics.conftest import Scrape, scrape
from tests.simulator.conftest import PartnerClient

CARTS = "/v1/customers/{customer}/carts"
CHECKOUT = "/v1/customers/{customer}/carts/{cart}/checkout"
AGREEMENTS = "/v1/customers/{customer}/agreements"

#: Retries without the back-off waits (a 429's Retry-After is still honoured); the throttle paces
#: calls 0.1 s apart with no burst, so the purchase's calls wait for their slots.
SETTINGS: dict[str, Any] = {
    "pc_retry_backoff_seconds": 0.01,
    "pc_retry_jitter_seconds": 0.0,
    "pc_rate_limit_per_minute": 600,
    "throttle_burst": 1,
}


def gateway_url(gw: Gateway) -> str:
    return str(gw.http.make_url("")).rstrip("/")


async def idle(gw: Gateway) -> Scrape:
    """A scrape once the worker that finished the purchase has let go of it (its task ends
    just after the operation's last save, which the test saw)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        scraped = await scrape(gateway_url(gw))
        if scraped.value("pcgw_workers_busy") == 0 or loop.time() > deadline:
            return scraped
        await asyncio.sleep(0.02)


async def test_a_purchase_through_a_429_a_500_and_a_reset_shows_in_both_apps_metrics(
    make_gateway: MakeGateway, sim: PartnerClient, sim_url: str
) -> None:
    gw = await make_gateway(**SETTINGS)  # API keys on: /metrics must still answer without one
    for fault in (
        {"method": "POST", "path": "/carts$", "status": 429, "retryAfter": 1, "times": 1},
        {"method": "POST", "path": "/checkout$", "status": 500, "times": 1},
        {"method": "POST", "path": "/agreements$", "reset": True, "times": 1},
    ):
        await sim.sim("POST", "/faults", fault, status=201)

    accepted = await gw.submit("/v1/orders", purchase_order("metrics"))
    op = await gw.wait(accepted["id"])
    assert op["status"] == "succeeded", op
    for path in ("/nowhere/one", "/nowhere/two"):
        assert (await gw.http.get(path)).status == 404

    gateway = await idle(gw)
    # Each call by route template and answer, each attempt counted (the failed ones too).
    upstream = "pcgw_upstream_requests_total"
    assert gateway.value(upstream, method="POST", route=CARTS, code="429") == 1
    assert gateway.value(upstream, method="POST", route=CARTS, code="201") == 1
    assert gateway.value(upstream, method="POST", route=CHECKOUT, code="500") == 1
    assert gateway.value(upstream, method="POST", route=CHECKOUT, code="201") == 1
    assert gateway.value(upstream, method="POST", route=AGREEMENTS, code="connection_error") == 1
    assert gateway.value(upstream, method="POST", route=AGREEMENTS, code="201") == 1
    retries = gateway.series("pcgw_upstream_retries_total")
    assert retries == {
        frozenset({"method": "POST", "route": CARTS, "reason": "429"}.items()): 1,
        frozenset({"method": "POST", "route": CHECKOUT, "reason": "500"}.items()): 1,
        frozenset({"method": "POST", "route": AGREEMENTS, "reason": "connection_error"}.items()): 1,
    }
    # Paced 0.1 s apart with no burst, the purchase's calls waited for the throttle.
    assert gateway.value("pcgw_throttle_waits_total") >= 1
    assert gateway.value("pcgw_throttle_wait_seconds_total") > 0
    assert gateway.value("pcgw_throttle_refusals_total") == 0
    # The journal's census, and the workers.
    assert gateway.value("pcgw_operations", status="succeeded") == 1
    for status in ("accepted", "running", "action_required", "failed", "dead_letter"):
        assert gateway.value("pcgw_operations", status=status) == 0, status
    assert gateway.value("pcgw_queue_depth") == 0
    assert gateway.value("pcgw_workers_busy") == 0
    assert gateway.value("pcgw_workers_capacity") == 4
    # Northbound: route templates, so the two unknown paths are one series and no id shows.
    requests = "pcgw_http_requests_total"
    assert gateway.value(requests, method="POST", route="/v1/orders", status="202") == 1
    assert gateway.value(requests, method="GET", route="/v1/operations/{operation}",
                         status="200") >= 1  # fmt: skip
    assert gateway.value(requests, method="GET", route="unmatched", status="404") == 2
    latency = "pcgw_http_request_duration_seconds_count"
    assert gateway.value(latency, method="POST", route="/v1/orders") == 1
    customer = op["result"]["customerId"]
    for private in (customer, accepted["id"], "metrics.onmicrosoft", "/nowhere"):
        assert private not in gateway.text, private

    # The simulator: its counters agree with its own request log, and with the gateway's.
    log = (await sim.sim("GET", "/requests?limit=10000"))["items"]
    simulator = await scrape(sim_url)
    templates = RouteTemplates(
        dict(labels)["route"] for labels in simulator.series("pcsim_http_requests_total")
    )
    logged = Counter((r["method"], templates.template(r["path"]), str(r["status"])) for r in log)
    counted = {
        (labels["method"], labels["route"], labels["status"]): value
        for key, value in simulator.series("pcsim_http_requests_total").items()
        if not (labels := dict(key))["route"].startswith("/_sim")
        and labels["route"] != "/metrics"
        and labels["status"] != "dropped"  # a connection a fault dropped is not in the log
    }
    assert counted == dict(logged)
    assert simulator.value("pcsim_http_requests_total", method="POST", route=AGREEMENTS,
                           status="dropped") == 1  # fmt: skip
    from_gateway = {
        (labels["method"], labels["route"].lower(), labels["code"]): value
        for key, value in gateway.series(upstream).items()
        if (labels := dict(key))
    }
    seen_by_simulator = {
        (method, route.lower(), "connection_error" if status == "dropped" else status): value
        for (method, route, status), value in {
            **counted,
            ("POST", AGREEMENTS, "dropped"): 1.0,
        }.items()
        if route.startswith("/v1/")
    }
    assert from_gateway == seen_by_simulator
    assert simulator.series("pcsim_faults_fired_total") == {
        frozenset({"kind": "status", "status": "429"}.items()): 1,
        frozenset({"kind": "status", "status": "500"}.items()): 1,
        frozenset({"kind": "reset", "status": ""}.items()): 1,
    }
    assert simulator.value("pcsim_rate_limited_total") == 0

    state = await sim.sim("GET", "/state")
    assert simulator.value("pcsim_customers") == len(state["customers"])
    active = sum(1 for s in state["subscriptions"] if s["status"] == "active")
    assert active >= 1
    assert simulator.value("pcsim_subscriptions", status="active") == active
    clock = await sim.sim("GET", "/clock")
    assert (
        simulator.value("pcsim_clock_seconds") == datetime.fromisoformat(clock["now"]).timestamp()
    )


async def test_metrics_are_public_and_the_api_beside_them_is_not(make_gateway: MakeGateway) -> None:
    gw = await make_gateway()
    base = gateway_url(gw)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/v1/operations") as refused:
            assert refused.status == 401
        async with session.get(
            f"{base}/metrics", headers={"Accept": "application/openmetrics-text"}
        ) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/openmetrics-text"
            text = await resp.text()
    assert text.rstrip().endswith("# EOF")
    scraped = await scrape(base)
    requests = "pcgw_http_requests_total"
    assert scraped.value(requests, method="GET", route="/v1/operations", status="401") == 1
    assert scraped.value(requests, method="GET", route="/metrics", status="200") == 1
