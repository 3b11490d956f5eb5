"""The cassette machinery itself, recorded into tmp_path: nothing secret is written, what is
written replays through the real adapter with no server, and replay refuses the unrecorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.partner_center import PartnerCenterClient, RetryPolicy, TokenProvider
from adapters.recording.cassettes import (
    CANONICAL_ORIGIN,
    REDACTED,
    CannotOverwriteExistingCassetteException,
    Recording,
    cassette,
)
from simulator import SimulatorSettings, create_app
from tests.simulator.conftest import PROVIDER, customer_body

FAST = RetryPolicy(backoff=0.01, jitter=0.0)


@dataclass
class Adapter:
    pc: PartnerCenterClient
    tokens: TokenProvider


@pytest.fixture
async def sim() -> AsyncIterator[TestClient[Any, Any]]:
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(SimulatorSettings())))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def url_of(sim: TestClient[Any, Any]) -> str:
    return str(sim.make_url("")).rstrip("/")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def adapter(session: aiohttp.ClientSession, url: str) -> Adapter:
    tokens = TokenProvider(
        session, url, PROVIDER["tenant_id"], PROVIDER["client_id"], PROVIDER["client_secret"]
    )
    return Adapter(PartnerCenterClient(session, url, tokens, FAST), tokens)


async def test_a_recorded_cassette_holds_no_secret_and_still_replays_without_a_server(
    sim: TestClient[Any, Any], session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = tmp_path / "secrets.yaml"
    live = adapter(session, url_of(sim))
    recording = Recording(mode="once", redact=("email",), upstreams=(url_of(sim),))
    body = customer_body("contoso.onmicrosoft.com")
    with cassette(path, recording):
        created = (await live.pc.call("POST", "/v1/customers", body=body)).body
        token = await live.tokens.token()
        fetched = (await live.pc.call("GET", f"/v1/customers/{created['id']}")).body
    await sim.close()  # from here on nothing answers but the cassette

    written = path.read_text()
    password = created["userCredentials"]["password"]
    secrets = {
        "bearer token": token,
        "client secret": PROVIDER["client_secret"],
        "admin password": password,
        "configured key (email)": "admin@example.com",
    }
    assert all(len(value) >= 8 for value in secrets.values())
    assert [name for name, value in secrets.items() if value in written] == []
    assert REDACTED in written
    assert "userCredentials" in written

    replay = adapter(session, CANONICAL_ORIGIN)
    with cassette(path, Recording(mode="none", redact=("email",), upstreams=(CANONICAL_ORIGIN,))):
        again = (await replay.pc.call("POST", "/v1/customers", body=body)).body
        assert await replay.tokens.token() == REDACTED  # the sign-in answer still parsed
        fetched_again = (await replay.pc.call("GET", f"/v1/customers/{created['id']}")).body
    assert again["id"] == created["id"]
    assert again["userCredentials"] == {**created["userCredentials"], "password": REDACTED}
    assert fetched_again["billingProfile"]["email"] == REDACTED
    assert fetched_again["companyProfile"] == fetched["companyProfile"]
    assert replay.tokens.sign_ins == 1


async def test_an_unrecorded_request_on_replay_fails_where_it_is_made_and_after_the_test(
    sim: TestClient[Any, Any], session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = tmp_path / "one-call.yaml"
    with cassette(path, Recording(mode="once")):
        await adapter(session, url_of(sim)).pc.call("GET", "/v1/customers")
    replay = adapter(session, CANONICAL_ORIGIN)
    with (  # noqa: PT012 - the failure comes from leaving the cassette, after both calls
        pytest.raises(AssertionError, match=r"1 request\(s\) not in cassette") as failed,
        cassette(path, Recording(mode="none")),
    ):
        await replay.pc.call("GET", "/v1/customers")  # recorded: answered
        with pytest.raises(CannotOverwriteExistingCassetteException):
            await replay.pc.call("GET", "/v1/customers", params={"size": "5"})
    assert "GET /v1/customers?size=5" in str(failed.value)


async def test_retries_are_recorded_and_replayed_attempt_by_attempt(
    sim: TestClient[Any, Any], session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    fault = {"method": "GET", "path": "^/v1/customers$", "status": 503, "times": 2}
    assert (await sim.post("/_sim/faults", json=fault)).status == 201
    path = tmp_path / "retries.yaml"
    with cassette(path, Recording(mode="once")) as recorded:
        live = adapter(session, url_of(sim))
        assert (await live.pc.call("GET", "/v1/customers")).status == 200
    assert [(i.path, i.status) for i in recorded.interactions()][1:] == [
        ("/v1/customers", 503), ("/v1/customers", 503), ("/v1/customers", 200),
    ]  # fmt: skip
    replay = adapter(session, CANONICAL_ORIGIN)
    with cassette(path, Recording(mode="none")) as replayed:
        assert (await replay.pc.call("GET", "/v1/customers")).status == 200
        assert replay.pc.calls == 3
        assert replayed.unplayed() == []


async def test_control_plane_and_other_origins_pass_through_unrecorded(
    sim: TestClient[Any, Any], tmp_path: Path
) -> None:
    path = tmp_path / "only-upstream.yaml"
    other: TestClient[Any, Any] = TestClient(TestServer(create_app(SimulatorSettings())))
    await other.start_server()
    try:
        with cassette(path, Recording(mode="once", upstreams=(url_of(sim),))) as tape:
            assert (await sim.get("/_sim/clock")).status == 200
            assert (await other.get("/_sim/state")).status == 200
            assert (await other.get("/v1/customers")).status == 401
            assert (await sim.get("/v1/customers")).status == 401
    finally:
        await other.close()
    assert [(i.method, i.path) for i in tape.interactions()] == [("GET", "/v1/customers")]
    assert f"uri: {CANONICAL_ORIGIN}/v1/customers" in path.read_text()


async def test_rewrite_records_the_cassette_afresh(
    sim: TestClient[Any, Any], tmp_path: Path
) -> None:
    path = tmp_path / "rewritten.yaml"
    with cassette(path, Recording(mode="once")):
        await sim.get("/v1/customers")
    with cassette(path, Recording(mode="rewrite")) as tape:
        await sim.get("/v1/products?country=US")
    assert [i.path for i in tape.interactions()] == ["/v1/products"]
    assert "/v1/customers" not in path.read_text()
