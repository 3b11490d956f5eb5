"""The gateway killed mid-purchase (SIGKILL: no shutdown, no cleanup) and started again on the same
SQLite journal finishes the purchase exactly once.

The gateway runs as a real ``pcgw serve`` process; the simulator runs in-process (as ``pcgw sim``
serves it, letting the dead gateway's last call finish inside Partner Center).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.gateway.conftest import purchase_order
from tests.gateway.processes import GatewayProcess, gateway_processes, operation, poll
from tests.gateway.test_faults import posts_by_request_id, step, wire_log

# the simulator as `pcgw sim` serves it: a call whose client died still finishes
from tests.simulator.conftest import BASIC, PartnerClient


@pytest.fixture
async def start_gateway(
    sim_url: str, tmp_path: Path
) -> AsyncIterator[Callable[[aiohttp.ClientSession], Awaitable[GatewayProcess]]]:
    """Starts ``pcgw serve`` processes on one SQLite journal file; every one is killed when the
    test ends, whatever happened."""
    async with gateway_processes(sim_url, tmp_path) as start:
        yield lambda http: start(http, f"sqlite:///{tmp_path / 'journal.db'}")


def _checkout_running(op: dict[str, Any]) -> bool:
    return any(s["name"] == "checkout" and s["status"] == "running" for s in op["steps"])


async def test_a_gateway_killed_during_checkout_and_restarted_buys_exactly_once(
    sim: PartnerClient, start_gateway: Callable[[aiohttp.ClientSession], Awaitable[GatewayProcess]]
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        first = await start_gateway(http)
        # checkout hangs for 2 s inside Partner Center: the gateway is killed while it waits
        fault = await sim.sim("POST", "/faults", {"method": "POST", "path": "/checkout$",
                                                  "latencyMs": 2000}, status=201)  # fmt: skip
        async with http.post(f"{first.url}/v1/orders", json=purchase_order(),
                             headers={"Idempotency-Key": "restart-1"}) as resp:  # fmt: skip
            assert resp.status == 202, await resp.text()
            op_id = (await resp.json())["id"]
        before = await poll("checkout step", lambda: operation(http, first, op_id),
                            _checkout_running)  # fmt: skip
        await poll("checkout reaching Partner Center", lambda: sim.sim("GET", "/faults"),
                   lambda faults: faults["items"][0]["fired"] == 1)  # fmt: skip
        await first.kill()
        await sim.sim("DELETE", f"/faults/{fault['id']}", status=204)

        second = await start_gateway(http)
        op = await poll("operation", lambda: operation(http, second, op_id),
                        lambda op: op["status"] in ("succeeded", "failed"))  # fmt: skip
    assert op["status"] == "succeeded", op
    checkout = step(op, "checkout")
    assert checkout["msRequestId"] == step(before, "checkout")["msRequestId"]
    assert checkout["attempts"] == 2  # once in the killed process, once after the restart
    # the killed process's checkout, still held up in Partner Center, finishes too: one order
    by_id = await poll("both checkouts answered", lambda: _checkouts(sim), lambda c: len(c) == 2,
                       seconds=5.0)  # fmt: skip
    assert by_id == [(checkout["msRequestId"], 201)] * 2
    state = await sim.sim("GET", "/state")
    [customer] = state["customers"]
    [order] = state["orders"]
    [sub] = state["subscriptions"]
    assert op["result"]["customerId"] == customer["tenantId"] == order["customerId"]
    assert (op["result"]["orderIds"], op["result"]["subscriptionIds"]) == (
        [order["id"]],
        [sub["id"]],
    )
    assert (sub["quantity"], sub["catalogItemId"]) == (5, BASIC)
    assert len(state["carts"]) == 1


async def _checkouts(sim: PartnerClient) -> list[tuple[str, int]]:
    grouped = posts_by_request_id(await wire_log(sim), "/checkout")
    return [(rid, status) for rid, statuses in grouped.items() for status in statuses]
