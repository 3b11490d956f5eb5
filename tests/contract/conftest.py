"""Gateway workflows with their Partner Center traffic in cassettes (tests/cassettes/<module>/
<test>.yaml).

Replay (``pytest``, record mode ``none``): no simulator at all. The gateway's Partner Center and
sign-in URLs point at ``http://partner-center.invalid``, where nothing listens; vcrpy answers every
upstream call from the cassette, and a call it does not hold fails the test.

Record (``pytest tests/contract --record-mode=rewrite``): the in-process simulator on a real port,
as tests/gateway does. Only the gateway's upstream traffic is recorded; control-plane calls
(``upstream.advance``/``fault``) go to the simulator and are skipped on replay, since the cassette
already holds the answers they led to (the Date header the gateway judges windows by included).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.recording.cassettes import (
    CANONICAL_ORIGIN,
    Recording,
    RecordModeName,
    Tape,
    cassette,
)
from gateway.app import create_app as create_gateway
from simulator import SimulatorSettings
from simulator import create_app as create_simulator
from tests.gateway.conftest import Gateway, ProductionLikeServer, fast_settings

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
#: Retries as production makes them, minus the waiting.
FAST: dict[str, Any] = {"pc_retry_backoff_seconds": 0.01, "pc_retry_jitter_seconds": 0.0}


class Upstream:
    """Partner Center as this run sees it: a live simulator when recording, nothing on replay."""

    def __init__(self, url: str, sim: TestClient[Any, Any] | None) -> None:
        self.url = url
        self._sim = sim

    @property
    def live(self) -> bool:
        return self._sim is not None

    async def control(self, method: str, path: str, body: Any = None, status: int = 200) -> None:
        """A ``/_sim`` call when recording; nothing on replay (its effect is in the cassette)."""
        if self._sim is None:
            return
        resp = await self._sim.request(method, f"/_sim{path}", json=body)
        assert resp.status == status, f"/_sim{path} -> {resp.status}: {await resp.text()}"

    async def advance(self, by: str) -> None:
        await self.control("POST", "/clock/advance", {"by": by})

    async def fault(self, **spec: Any) -> None:
        await self.control("POST", "/faults", spec, status=201)


@pytest.fixture
def record_mode(request: pytest.FixtureRequest) -> RecordModeName:
    return cast("RecordModeName", request.config.getoption("--record-mode"))


@pytest.fixture
async def upstream(record_mode: RecordModeName) -> AsyncIterator[Upstream]:
    if record_mode == "none":
        yield Upstream(CANONICAL_ORIGIN, None)
        return
    sim: TestClient[Any, Any] = TestClient(
        ProductionLikeServer(create_simulator(SimulatorSettings()))
    )
    await sim.start_server()
    try:
        yield Upstream(str(sim.make_url("")).rstrip("/"), sim)
    finally:
        await sim.close()


@pytest.fixture
def tape(
    request: pytest.FixtureRequest, upstream: Upstream, record_mode: RecordModeName
) -> Iterator[Tape]:
    """This test's cassette; on replay, every recorded interaction must have been used."""
    recording = Recording(mode=record_mode, upstreams=(upstream.url,))
    path = CASSETTES / Path(request.path).stem / f"{request.node.name}.yaml"
    with cassette(path, recording) as used:
        yield used
    if used.replaying:
        assert not used.unplayed(), f"{path} holds calls the gateway no longer makes"


@pytest.fixture
async def gw(upstream: Upstream, tape: Tape, tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway whose Partner Center is ``upstream``, started inside the cassette."""
    settings = fast_settings(upstream.url, tmp_path / "journal.db", **FAST)
    client: TestClient[Any, Any] = TestClient(TestServer(create_gateway(settings)))
    await client.start_server()
    try:
        yield Gateway(client)
    finally:
        await client.close()
