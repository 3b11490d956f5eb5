"""What the reliability tests share: fast settings, and :class:`Run` — one gateway on the
in-process simulator, a driver for it, and the invariants at the end (fixture ``run``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.gateway.conftest import MakeGateway
from tests.reliability.invariants import violations
from tests.reliability.workload import Driver, SimControl, evidence

#: Short retries and back-offs so a case takes seconds (a Retry-After is still honoured).
FAST: dict[str, Any] = {
    "auth": "off",  # one implicit marketplace: tenancy is tested on its own
    "workers": 16,
    "pc_retry_backoff_seconds": 0.01,
    "pc_retry_jitter_seconds": 0.01,
    "unavailable_backoff_seconds": 0.05,
    "renewal_retry_seconds": 0.1,
    "pc_rate_limit_per_minute": 0,
}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def control(http: aiohttp.ClientSession, sim_url: str) -> SimControl:
    control = SimControl(http, sim_url)
    await control.control("PUT", "/config", {"rateLimitPerMinute": 0})  # only injected 429s
    return control


class Run:
    """One gateway on the simulator, a driver for it, and the invariants at the end."""

    def __init__(
        self, http: aiohttp.ClientSession, control: SimControl, url: str, seed: int
    ) -> None:
        self.http, self.control, self.url = http, control, url
        self.driver = Driver(http, lambda: url, seed, tag=f"r{seed}x")

    async def violations(self) -> list[str]:
        found = await evidence(self.http, self.control, self.url, self.driver.tally.submitted)
        return violations(found)

    async def writes(self, method: str, path_end: str) -> dict[str, list[int]]:
        """Statuses of the gateway's calls ``method … path_end``, by ``MS-RequestId``."""
        grouped: dict[str, list[int]] = {}
        for record in await self.control.requests():
            if record["method"] == method and record["path"].endswith(path_end):
                grouped.setdefault(record["msRequestId"], []).append(record["status"])
        return grouped


@pytest.fixture
async def run(make_gateway: MakeGateway, http: aiohttp.ClientSession, control: SimControl) -> Run:
    gw = await make_gateway(**FAST)
    return Run(http, control, str(gw.http.make_url("")).rstrip("/"), seed=7)


def step(op: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [s for s in op["steps"] if s["name"] == name]
    return dict(found)
