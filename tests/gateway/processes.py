"""``pcgw serve`` as real child processes for tests that need an OS process: one to SIGKILL
(no shutdown, no cleanup, leases left behind), several replicas sharing one database.

Each process logs structured JSON lines to its own file, so what a process did can be read back
from its log (the log file is the process's identity: no setting names a replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from tests.simulator.conftest import PROVIDER

PCGW = Path(sys.executable).with_name("pcgw")

#: Fast polling so operations waiting on Partner Center move on within a test's patience.
FAST_ENV = {
    "PCGW_WORKERS": "2",
    "PCGW_ORDER_POLL_SECONDS": "0.05",
    "PCGW_INVITATION_POLL_SECONDS": "0.1",
    "PCGW_RENEWAL_RETRY_SECONDS": "0.2",
    # No API key: these tests are about processes dying (tests/gateway/test_auth.py has keys).
    "PCGW_AUTH": "off",
}

_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on, never the same twice in one test run: replicas started
    together must not race for one port (the loser would exit, and the winner would answer the
    loser's readiness probe)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


class GatewayProcess:
    """``pcgw serve`` in a child process, on a free port, against the simulator at ``sim_url``
    and the journal at ``database_url``; ``env`` adds or overrides ``PCGW_*`` settings."""

    def __init__(
        self,
        sim_url: str,
        database_url: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.sim_url, self.database_url, self.log_path = sim_url, database_url, log_path
        self.env = dict(env or {})
        self.log_level = log_level
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
            **FAST_ENV,
            **self.env,
        }
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(PCGW), "serve", "--port", str(port), "--log-level", self.log_level,
                "--database-url", self.database_url,
                env=env, stdout=log, stderr=log,
            )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        await self._until_ready(http)

    async def _until_ready(self, http: aiohttp.ClientSession) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15.0
        while True:
            assert self.process is not None
            assert self.process.returncode is None, (
                f"pcgw exited: {self.process.returncode}\n{self.log_path.read_text()}"
            )
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{self.url}/v1/operations?limit=1") as resp:
                    if resp.status == 200:
                        return
            assert loop.time() < deadline, "pcgw serve did not answer within 15 s"
            await asyncio.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish its step or close the journal."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(self.process.wait(), 10.0)

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        """The structured log lines this process wrote so far (``event`` keeps one kind);
        anything else in the log (a traceback, the start-up banner) is skipped."""
        found = []
        for line in self.log_path.read_text().splitlines():
            if not line.startswith("{"):
                continue
            with contextlib.suppress(json.JSONDecodeError):
                record = json.loads(line)
                if isinstance(record, dict) and event in (None, record.get("event")):
                    found.append(record)
        return found


class StartGateway(Protocol):
    def __call__(
        self,
        http: aiohttp.ClientSession,
        database_url: str,
        env: Mapping[str, str] | None = None,
        log_level: str = "warning",
    ) -> Awaitable[GatewayProcess]: ...


@contextlib.asynccontextmanager
async def gateway_processes(sim_url: str, logs: Path) -> AsyncIterator[StartGateway]:
    """Starts ``pcgw serve`` processes, each logging to ``logs/pcgw-N.log``; every one is
    killed on the way out, whatever happened."""
    started: list[GatewayProcess] = []

    async def start(
        http: aiohttp.ClientSession,
        database_url: str,
        env: Mapping[str, str] | None = None,
        log_level: str = "warning",
    ) -> GatewayProcess:
        log_path = logs / f"pcgw-{len(started) + 1}.log"
        gateway = GatewayProcess(sim_url, database_url, log_path, env, log_level)
        started.append(gateway)
        await gateway.start(http)
        return gateway

    try:
        yield start
    finally:
        for gateway in started:
            await gateway.kill()


async def poll(
    what: str,
    probe: Callable[[], Awaitable[Any]],
    done: Callable[[Any], bool],
    seconds: float = 15.0,
    every: float = 0.02,
) -> Any:
    """``probe()`` until ``done`` holds for its value (at most ``seconds``), which is returned."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await probe()
        if done(value):
            return value
        assert loop.time() < deadline, f"{what}: still {value}"
        await asyncio.sleep(every)


async def operation(http: aiohttp.ClientSession, gw: GatewayProcess, op_id: str) -> Any:
    async with http.get(f"{gw.url}/v1/operations/{op_id}") as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()
