"""Real ``pcgw serve`` processes as replicas on one PostgreSQL database and one simulator: they
share a batch and buy each purchase exactly once, a step held by a live replica is never taken
over by another, and a replica SIGKILLed mid-checkout leaves the purchase for a running one to
finish, applied once.

Which replica ran what is read from each process's own log: the workflow engine logs
``operation.waiting`` / ``operation.succeeded`` with the operation id in the process that ran
the step, and each process writes to its own file. Whether two calls with one ``MS-RequestId``
overlapped in time cannot be read from the simulator (its request journal keeps one time per
call, when it answered); what a double run would leave behind, a second call with the step's
``MS-RequestId`` and a second attempt, can, and is asserted instead.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.gateway.conftest import purchase_order
from tests.gateway.processes import (
    GatewayProcess,
    StartGateway,
    gateway_processes,
    operation,
    poll,
)
from tests.gateway.test_faults import (
    add_fault,
    assert_exactly_once,
    posts_by_request_id,
    step,
    wire_log,
)
from tests.simulator.conftest import PartnerClient

FINISHED = ("succeeded", "failed", "dead_letter")
#: A lease short enough to run out within a test, long enough for the keeper (every third of
#: it) to extend it on a busy machine.
LEASE = {"PCGW_LEASE_SECONDS": "1.0"}


@pytest.fixture
async def start_gateway(sim_url: str, tmp_path: Path) -> AsyncIterator[StartGateway]:
    async with gateway_processes(sim_url, tmp_path) as start:
        yield start


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def replicas(
    start: StartGateway, http: aiohttp.ClientSession, pg_url: str, n: int, **env: str
) -> list[GatewayProcess]:
    """``n`` replicas started together on one empty database (they take turns migrating it);
    info-level logs, which name the operations each one ran."""
    return list(await asyncio.gather(*(start(http, pg_url, env, "info") for _ in range(n))))


async def submit(http: aiohttp.ClientSession, gw: GatewayProcess, body: Any) -> str:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    async with http.post(f"{gw.url}/v1/orders", json=body, headers=headers) as resp:
        assert resp.status == 202, await resp.text()
        return str((await resp.json())["id"])


async def finished(http: aiohttp.ClientSession, gw: GatewayProcess, op_id: str) -> Any:
    return await poll(f"operation {op_id}", lambda: operation(http, gw, op_id),
                      lambda op: op["status"] in FINISHED)  # fmt: skip


def ran(gw: GatewayProcess) -> set[str]:
    """Operations this replica took to a wait or to the end (the engine logs both)."""
    return {
        e["operation_id"]
        for e in gw.events()
        if e.get("event") in ("operation.waiting", "operation.succeeded", "operation.failed")
    }


async def checkouts(sim: PartnerClient) -> dict[str, list[int]]:
    return posts_by_request_id(await wire_log(sim), "/checkout")


def _checkout_running(op: dict[str, Any]) -> bool:
    return any(s["name"] == "checkout" and s["status"] == "running" for s in op["steps"])


async def test_three_replica_processes_share_a_batch_and_buy_each_purchase_exactly_once(
    pg_url: str, start_gateway: StartGateway, http: aiohttp.ClientSession, sim: PartnerClient
) -> None:
    gateways = await replicas(start_gateway, http, pg_url, 3)
    # Slow checkouts keep each replica's two workers busy: work a replica received overflows.
    await add_fault(sim, method="POST", path="/checkout$", latencyMs=300, times=100)
    targets = itertools.cycle(gateways)
    op_ids = [await submit(http, next(targets), purchase_order(f"batch{n}")) for n in range(9)]
    ops = [await finished(http, gateways[n % 3], op_id) for n, op_id in enumerate(op_ids)]

    assert [op["status"] for op in ops] == ["succeeded"] * 9, ops
    await assert_exactly_once(sim, ops)
    # every checkout went out once: no step ran twice, nowhere
    assert await checkouts(sim) == {step(op, "checkout")["msRequestId"]: [201] for op in ops}
    assert all(step(op, "checkout")["attempts"] == 1 for op in ops)
    # each replica did part of the batch; together all of it, each operation finished once
    assert all(ran(gw) & set(op_ids) for gw in gateways), [ran(gw) for gw in gateways]
    assert set().union(*(ran(gw) for gw in gateways)) == set(op_ids)
    succeeded = Counter(e["operation_id"] for gw in gateways
                        for e in gw.events("operation.succeeded"))  # fmt: skip
    assert succeeded == Counter(op_ids)
    assert all(gw.running for gw in gateways)


async def test_a_step_a_live_replica_holds_past_its_lease_is_not_taken_by_another(
    pg_url: str, start_gateway: StartGateway, http: aiohttp.ClientSession, sim: PartnerClient
) -> None:
    """The checkout takes 2.5 leases inside Partner Center while the other replica looks for
    due work every half second: the holder keeps extending its lease, so the step runs once."""
    a, b = await replicas(start_gateway, http, pg_url, 2, **LEASE)
    await add_fault(sim, method="POST", path="/checkout$", latencyMs=2500, times=1)
    op_id = await submit(http, a, purchase_order("held"))  # A has free workers: A runs it
    op = await finished(http, b, op_id)

    assert op["status"] == "succeeded", op
    checkout = step(op, "checkout")
    assert checkout["attempts"] == 1
    assert await checkouts(sim) == {checkout["msRequestId"]: [201]}
    await assert_exactly_once(sim, [op])
    assert op_id in ran(a)
    assert not [e for gw in (a, b) for e in gw.events("operation.lease_lost")]


async def test_a_replica_killed_mid_checkout_leaves_the_purchase_to_a_running_one_once(
    pg_url: str, start_gateway: StartGateway, http: aiohttp.ClientSession, sim: PartnerClient
) -> None:
    a, b = await replicas(start_gateway, http, pg_url, 2, **LEASE)
    # A's checkout hangs for 3 s inside Partner Center; A is killed while it waits
    await add_fault(sim, method="POST", path="/checkout$", latencyMs=3000, times=1)
    op_id = await submit(http, a, purchase_order("orphan"))
    before = await poll("checkout step", lambda: operation(http, a, op_id), _checkout_running)
    await poll("checkout reaching Partner Center", lambda: sim.sim("GET", "/faults"),
               lambda faults: faults["items"][0]["fired"] == 1)  # fmt: skip
    await a.kill()

    op = await finished(http, b, op_id)  # once A's lease runs out, B claims it and retries
    assert op["status"] == "succeeded", op
    checkout = step(op, "checkout")
    assert checkout["msRequestId"] == step(before, "checkout")["msRequestId"]
    assert checkout["attempts"] == 2  # once in A, once in B
    # A's call, still held up in Partner Center when B retried, is answered too: both with the
    # one order, made once (the later of the two is a replay of the same MS-RequestId)
    by_id = await poll("both checkouts answered", lambda: checkouts(sim),
                       lambda c: sum(map(len, c.values())) == 2, seconds=5.0)  # fmt: skip
    assert by_id == {checkout["msRequestId"]: [201, 201]}
    await assert_exactly_once(sim, [op])
    # B, never restarted, finished it; A logged nothing past its claim
    assert b.running  # the same process all along: it never exited
    assert [e["operation_id"] for e in b.events("operation.succeeded")] == [op_id]
    assert op_id not in ran(a)
