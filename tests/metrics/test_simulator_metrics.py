"""The simulator's ``/metrics`` on its own: per app, refusals of its rate limit, counters that
outlive a reset while the world's gauges follow it, and the scrape kept out of the request log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from simulator import SimulatorSettings
from simulator import create_app as create_simulator
from tests.metrics.conftest import scrape
from tests.simulator.conftest import PROVIDER, PartnerClient, sign_in

MPN = "/v1/profiles/mpn"


@pytest.fixture
async def two_simulators() -> AsyncIterator[list[TestClient[Any, Any]]]:
    """Two simulator apps in this one process."""
    clients: list[TestClient[Any, Any]] = [
        TestClient(TestServer(create_simulator(SimulatorSettings()))) for _ in range(2)
    ]
    for client in clients:
        await client.start_server()
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


def url(http: TestClient[Any, Any]) -> str:
    return str(http.make_url("")).rstrip("/")


async def provider(http: TestClient[Any, Any]) -> PartnerClient:
    return await sign_in(
        http, PROVIDER["client_id"], PROVIDER["client_secret"], PROVIDER["tenant_id"]
    )


async def test_two_simulators_in_one_process_count_only_their_own_calls(
    two_simulators: list[TestClient[Any, Any]],
) -> None:
    busy, quiet = two_simulators
    pc = await provider(busy)
    for _ in range(3):
        await pc.ok("GET", MPN)
    assert (await scrape(url(busy))).value(
        "pcsim_http_requests_total", method="GET", route=MPN, status="200"
    ) == 3
    untouched = await scrape(url(quiet))
    assert untouched.series("pcsim_http_requests_total") == {}  # its own scrape counts after
    assert untouched.value("pcsim_faults_fired_total") == 0


async def test_rate_limit_refusals_count_and_survive_a_reset_while_the_world_gauges_follow_it(
    two_simulators: list[TestClient[Any, Any]],
) -> None:
    http = two_simulators[0]
    pc = await provider(http)
    await pc.sim("PUT", "/config", {"rateLimitPerMinute": 1})
    await pc.ok("GET", MPN)
    refused = await pc.call("GET", MPN)
    assert refused.status == 429
    await pc.sim(
        "POST",
        "/tenants",
        {"domain": "counted.onmicrosoft.com", "companyName": "Counted", "country": "US"},
        status=201,
    )
    await pc.sim("POST", "/clock/advance", {"by": "P1D"})
    before = await scrape(url(http))
    assert before.value("pcsim_rate_limited_total") == 1
    assert before.value("pcsim_http_requests_total", method="GET", route=MPN, status="429") == 1
    customers = before.value("pcsim_customers")
    clock = before.value("pcsim_clock_seconds")

    await pc.sim("POST", "/reset", status=204)
    after = await scrape(url(http))
    assert after.value("pcsim_rate_limited_total") == 1  # counters only go up
    assert after.value("pcsim_http_requests_total", method="GET", route=MPN, status="200") == 1
    assert after.value("pcsim_customers") == customers - 1  # the world is back at its start
    assert after.value("pcsim_clock_seconds") == clock - 86_400
    # A scrape is counted (once answered: this one shows the first), but kept out of the
    # request log, which is Partner Center's.
    assert after.value("pcsim_http_requests_total", method="GET", route="/metrics",
                       status="200") == 1  # fmt: skip
    await pc.ok("GET", MPN)
    log = (await pc.sim("GET", "/requests"))["items"]
    assert [(r["method"], r["path"]) for r in log] == [("GET", MPN)]
