"""The gateway killed mid-purchase (SIGKILL: no shutdown, no cleanup) and started again on the same
SQLite journal finishes the purchase exactly once.

The gateway runs as a real ``pcgw serve`` process; the simulator runs in-process (as ``pcgw sim``
serves it, letting the dead gateway's last call finish inside Partner Center).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest

from tests.gateway.conftest import purchase_order
from tests.gateway.test_faults import posts_by_request_id, step, wire_log

# the simulator as `pcgw sim` serves it: a call whose client died still finishes
from tests.simulator.conftest import BASIC, PROVIDER, PartnerClient

PCGW = Path(sys.executable).with_name("pcgw")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    """``pcgw serve`` in a child process, on a free port, against the simulator at ``sim_url``."""

    def __init__(self, sim_url: str, database: Path, log: IO[bytes]) -> None:
        self.sim_url, self.database, self.log = sim_url, database, log
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self, http: aiohttp.ClientSession) -> None:
        port = free_port()
        env = {
            **os.environ,
            "PCGW_PC_BASE_URL": self.sim_url,
            "PCGW_PC_LOGIN_URL": self.sim_url,
            "PCGW_PC_TENANT_ID": PROVIDER["tenant_id"],
            "PCGW_PC_CLIENT_ID": PROVIDER["client_id"],
            "PCGW_PC_CLIENT_SECRET": PROVIDER["client_secret"],
            "PCGW_WORKERS": "2",
            "PCGW_ORDER_POLL_SECONDS": "0.05",
            "PCGW_INVITATION_POLL_SECONDS": "0.1",
            "PCGW_RENEWAL_RETRY_SECONDS": "0.2",
        }
        self.process = await asyncio.create_subprocess_exec(
            str(PCGW), "serve", "--port", str(port), "--log-level", "warning",
            "--database-url", f"sqlite:///{self.database}",
            env=env, stdout=self.log, stderr=self.log,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        await self._until_ready(http)

    async def _until_ready(self, http: aiohttp.ClientSession) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15.0
        while True:
            assert self.process is not None
            assert self.process.returncode is None, f"pcgw exited: {self.process.returncode}"
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{self.url}/v1/operations?limit=1") as resp:
                    if resp.status == 200:
                        return
            assert loop.time() < deadline, "pcgw serve did not answer within 15 s"
            await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish its step or close the journal."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(self.process.wait(), 10.0)


@pytest.fixture
async def start_gateway(
    sim_url: str, tmp_path: Path
) -> AsyncIterator[Callable[[aiohttp.ClientSession], Awaitable[GatewayProcess]]]:
    """Starts ``pcgw serve`` processes on one journal file (their output goes to ``pcgw.log``);
    every one is killed when the test ends, whatever happened."""
    started: list[GatewayProcess] = []
    with (tmp_path / "pcgw.log").open("wb") as log:

        async def start(http: aiohttp.ClientSession) -> GatewayProcess:
            gateway = GatewayProcess(sim_url, tmp_path / "journal.db", log)
            started.append(gateway)
            await gateway.start(http)
            return gateway

        try:
            yield start
        finally:
            for gateway in started:
                await gateway.kill()


async def operation(http: aiohttp.ClientSession, gw: GatewayProcess, op_id: str) -> Any:
    async with http.get(f"{gw.url}/v1/operations/{op_id}") as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def poll(what: str, probe: Any, done: Any, seconds: float = 15.0, every: float = 0.02) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await probe()
        if done(value):
            return value
        assert loop.time() < deadline, f"{what}: still {value}"
        await asyncio.sleep(every)


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
