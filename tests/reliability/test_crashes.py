"""The gateway process dying under load: SIGKILLed at seeded random moments while dozens of
operations run (slow Partner Center writes keep steps in flight), restarted on the same SQLite
journal each time; and SIGTERM, which drains the steps running within its grace period, exits 0,
and leaves nothing a restart cannot finish. Every invariant holds at the end.

The gateway is a real ``pcgw serve`` child process; the simulator runs in-process as ``pcgw
sim`` serves it, so a call the dead gateway left behind still finishes inside Partner Center.
The driver behaves like a marketplace: a submit that got no answer is sent again, with the same
``Idempotency-Key``, to whichever gateway is up.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from adapters.storage import SqlJournal
from adapters.storage.schema import operations
from tests.gateway.processes import StartGateway, gateway_processes
from tests.reliability.invariants import violations
from tests.reliability.workload import (
    CREATES,
    SUBSCRIPTION,
    Driver,
    SimControl,
    evidence,
    plan_chains,
)

#: ``pcgw serve`` as the matrix runs it: no key, short retries, no rate limit of its own.
ENV = {
    "PCGW_AUTH": "off",
    "PCGW_WORKERS": "16",
    "PCGW_PC_RETRY_BACKOFF_SECONDS": "0.01",
    "PCGW_PC_RETRY_JITTER_SECONDS": "0.01",
    "PCGW_UNAVAILABLE_BACKOFF_SECONDS": "0.05",
    "PCGW_RENEWAL_RETRY_SECONDS": "0.1",
    "PCGW_PC_RATE_LIMIT_PER_MINUTE": "0",
}
UNFINISHED = ("accepted", "running", "action_required")


@pytest.fixture
async def start_gateway(sim_url: str, tmp_path: Path) -> AsyncIterator[StartGateway]:
    async with gateway_processes(sim_url, tmp_path) as start:
        yield start


def journal_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journal.db'}"


async def slow_writes(control: SimControl, ms: int) -> None:
    """Every write takes ``ms`` inside Partner Center: a kill finds steps in flight."""
    await control.add_fault(method="POST", path=CREATES, latencyMs=ms)
    await control.add_fault(method="PATCH", path=SUBSCRIPTION, latencyMs=ms)


@pytest.mark.parametrize("seed", [3, 4])
async def test_a_gateway_killed_at_random_moments_and_restarted_loses_and_doubles_nothing(
    seed: int,
    start_gateway: StartGateway,
    http: aiohttp.ClientSession,
    control: SimControl,
    tmp_path: Path,
) -> None:
    rng = random.Random(seed)
    await slow_writes(control, 300)
    gateway = await start_gateway(http, journal_url(tmp_path), ENV)
    driver = Driver(http, lambda: gateway.url, seed, tag=f"k{seed}x")
    work = asyncio.create_task(driver.run(plan_chains(rng, 40), concurrency=40))
    kills = 0
    for _ in range(3):
        await asyncio.sleep(rng.uniform(0.2, 0.8))
        if work.done():
            break
        await gateway.kill()
        kills += 1
        gateway = await start_gateway(http, journal_url(tmp_path), ENV)
    await work
    found = await evidence(http, control, gateway.url, driver.tally.submitted)
    assert violations(found) == []
    assert kills == 3, "the work finished before the gateway could be killed three times"
    # the kills really landed mid-step: some step ran again after a restart (same MS-RequestId,
    # which the request-id invariant above checked on the wire)
    assert any(s["attempts"] > 1 for op in found.operations for s in op["steps"])


async def test_sigterm_drains_then_exits_0_and_a_restart_finishes_every_operation(
    start_gateway: StartGateway,
    http: aiohttp.ClientSession,
    control: SimControl,
    tmp_path: Path,
) -> None:
    """Four workers, twelve purchases with slow writes: at SIGTERM some steps are running and
    most purchases wait their turn. One checkout takes far longer than the grace period: it is
    cancelled and its operation handed back. The process exits 0 well before its bound (two
    grace periods: the steps', then open requests'), holds no lease after, and a restart
    finishes everything exactly once."""
    grace = 2.0
    env = {**ENV, "PCGW_WORKERS": "4", "PCGW_SHUTDOWN_GRACE_SECONDS": str(grace)}
    await control.add_fault(method="POST", path="/checkout$", latencyMs=8000, times=1)
    await slow_writes(control, 200)
    first = await start_gateway(http, journal_url(tmp_path), env, log_level="info")
    gateway = first
    driver = Driver(http, lambda: gateway.url, seed=9, tag="term")
    work = asyncio.create_task(driver.run([["purchase"]] * 12, concurrency=12))
    await _until(lambda: _fired(control, 0), "the slow checkout to reach Partner Center")

    assert first.process is not None
    first.process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(first.process.wait(), timeout=2 * grace + 15)
    assert code == 0, first.log_path.read_text()
    [stopped] = first.events("workers.stopped")
    assert stopped["cancelled"] == 1  # the slow checkout; every other running step finished
    assert first.events("operation.handed_back")  # finished steps stopped at their boundary
    unfinished, claimable = await _claimable_now(tmp_path)
    assert unfinished > 0  # the drain did not wait for every purchase, only for running steps
    assert claimable == unfinished  # none left leased to the process that is gone

    gateway = await start_gateway(http, journal_url(tmp_path), env)
    await work
    found = await evidence(http, control, gateway.url, driver.tally.submitted)
    assert violations(found) == []
    assert driver.tally.statuses == {"succeeded": 12}
    [checkout] = [s for op in found.operations for s in op["steps"]
                  if s["name"] == "checkout" and s["attempts"] == 2]  # fmt: skip
    # the cancelled checkout ran again after the restart under its one MS-RequestId
    assert checkout["status"] == "succeeded"


async def _fired(control: SimControl, index: int) -> bool:
    return bool((await control.faults())[index]["fired"] >= 1)


async def _until(probe: Callable[[], Awaitable[bool]], what: str, seconds: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await probe():
        assert loop.time() < deadline, f"waited {seconds} s for {what}"
        await asyncio.sleep(0.02)


async def _claimable_now(tmp_path: Path) -> tuple[int, int]:
    """(unfinished operations, how many of them another process could claim this instant),
    read from the journal file the stopped gateway left."""
    journal = SqlJournal(journal_url(tmp_path))
    try:
        with journal.engine.connect() as conn:
            unfinished = conn.execute(
                sa.select(sa.func.count()).where(operations.c.status.in_(UNFINISHED))
            ).scalar_one()
        claimed = 0
        while await journal.claim("another-replica", datetime.now(UTC), 60.0) is not None:
            claimed += 1
    finally:
        await journal.close()
    return int(unfinished), claimed
