"""Several gateway replicas on one PostgreSQL database and one simulator: they share the work,
wake each other for new work, never buy anything twice, finish what a killed replica left
mid-step, and stop (dead-letter) an operation whose workers keep vanishing until an operator
retries it.

Which replica ran what is read from each app's ``Workers`` (its ``ran`` count); killing a replica
mid-step is its workers' ``stop`` with no grace (its running steps are cancelled, its leases stay
behind as a dead process's would)."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.services import SERVICES
from gateway.worker import Workers
from tests.gateway import conftest as gateway_fixtures
from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.gateway.test_faults import add_fault, assert_exactly_once, step
from tests.simulator.conftest import PartnerClient

# The gateway tests' fixtures, by name: a simulator on a real port and gateways on it.
make_gateway = gateway_fixtures.make_gateway
sim = gateway_fixtures.sim
sim_http = gateway_fixtures.sim_http
sim_url = gateway_fixtures.sim_url


def workers(gw: Gateway) -> Workers:
    services = gw.http.server.app[SERVICES].services
    assert services is not None
    return services.workers


async def replicas(make: MakeGateway, pg_url: str, **settings: Any) -> tuple[Gateway, Gateway]:
    a = await make(database_url=pg_url, **settings)
    b = await make(database_url=pg_url, **settings)
    return a, b


async def wait_for_step(gw: Gateway, op_id: str, name: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not any(s["name"] == name for s in (await gw.operation(op_id))["steps"]):
        assert loop.time() < deadline, f"step {name} never started"
        await asyncio.sleep(0.02)


async def test_two_replicas_share_a_batch_and_buy_each_purchase_exactly_once(
    pg_url: str, make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    a, b = await replicas(make_gateway, pg_url, workers=2)
    # Slow checkouts keep each replica's two workers busy, so work submitted to one overflows.
    await add_fault(sim, method="POST", path="/checkout$", latencyMs=300, times=100)
    accepted = [
        await (a if n % 2 else b).submit("/v1/orders", purchase_order(f"batch{n}"))
        for n in range(10)
    ]
    ops = [await a.wait(op["id"]) for op in accepted]
    assert [op["status"] for op in ops] == ["succeeded"] * 10, ops
    await assert_exactly_once(sim, ops)
    assert workers(a).ran > 0
    assert workers(b).ran > 0


async def test_work_one_replica_has_no_worker_for_wakes_another_at_once(
    pg_url: str, make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    """Replica B polls only every 30 s here: only the notification can bring it in time."""
    a, b = await replicas(make_gateway, pg_url, workers=1)
    workers(b).poll = 30.0
    await add_fault(sim, method="POST", path="/checkout$", latencyMs=3000, times=1)
    slow = await a.submit("/v1/orders", purchase_order("slow"))
    await wait_for_step(a, slow["id"], "checkout")  # A's one worker is now held for 3 s
    loop = asyncio.get_running_loop()
    started = loop.time()
    quick = await a.submit("/v1/orders", purchase_order("quick"))
    done = await b.wait(quick["id"])
    assert done["status"] == "succeeded", done
    assert loop.time() - started < 2.0
    assert (await a.operation(slow["id"]))["status"] == "running"  # B did it, not A
    assert workers(b).ran == 1
    assert (await a.wait(slow["id"]))["status"] == "succeeded"


async def test_a_replica_killed_mid_step_leaves_its_operation_for_another_to_finish_once(
    pg_url: str, make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    a, b = await replicas(make_gateway, pg_url, lease_seconds=0.6)
    await add_fault(sim, method="POST", path="/checkout$", latencyMs=500, times=1)
    accepted = await a.submit("/v1/orders", purchase_order("orphan"))
    await wait_for_step(a, accepted["id"], "checkout")
    await workers(a).stop(grace=0)  # A dies with the checkout in flight
    done = await b.wait(accepted["id"])
    assert done["status"] == "succeeded", done
    assert step(done, "checkout")["attempts"] == 2  # run again by B, same MS-RequestId
    assert workers(b).ran >= 1
    await assert_exactly_once(sim, [done])


async def test_an_operation_whose_workers_keep_dying_is_dead_lettered_until_retried(
    pg_url: str, make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    a, b = await replicas(make_gateway, pg_url, lease_seconds=0.6, max_operation_attempts=1)
    await add_fault(sim, method="POST", path="/checkout$", latencyMs=500, times=1)
    accepted = await a.submit("/v1/orders", purchase_order("doomed"))
    await wait_for_step(a, accepted["id"], "checkout")
    await workers(a).stop(grace=0)
    dead = await b.wait(accepted["id"], until=("dead_letter",))
    assert dead["error"]["reason"] == "dead_letter"
    listed = await b.http.get("/v1/operations", params={"status": "dead_letter"})
    assert [op["id"] for op in (await listed.json())["items"]] == [accepted["id"]]

    retry = await b.http.post(f"/v1/operations/{accepted['id']}/retry")
    assert retry.status == 202, await retry.text()
    assert (await retry.json())["status"] == "running"
    done = await b.wait(accepted["id"])
    assert done["status"] == "succeeded", done
    await assert_exactly_once(sim, [done])
    again = await b.http.post(f"/v1/operations/{accepted['id']}/retry")
    assert again.status == 409
    assert (await again.json())["code"] == "operation_not_retryable"
