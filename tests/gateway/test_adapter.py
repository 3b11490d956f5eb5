"""The Partner Center adapter on its own, against the real simulator: sign-in and the token cache,
the headers every call carries, retries, and how Microsoft's error answers become typed errors."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from adapters.partner_center import PartnerCenterClient, RetryPolicy, TokenProvider
from adapters.partner_center.token import EARLY
from gateway.upstream import PartnerCenterError, UpstreamUnavailable
from tests.simulator.conftest import PROVIDER, PartnerClient

FAST = RetryPolicy(backoff=0.01, jitter=0.0)
MPN = "/v1/profiles/mpn"
RESELLER_MPN = {"mpnId": "2000002"}


class ManualClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        yield http


MakeClient = Callable[..., PartnerCenterClient]


@pytest.fixture
def make_client(session: aiohttp.ClientSession, sim_url: str) -> MakeClient:
    def make(
        policy: RetryPolicy = FAST, clock: ManualClock | None = None, secret: str | None = None
    ) -> PartnerCenterClient:
        tokens = TokenProvider(
            session, sim_url, PROVIDER["tenant_id"], PROVIDER["client_id"],
            secret or PROVIDER["client_secret"], clock=clock or ManualClock(),
        )  # fmt: skip
        return PartnerCenterClient(session, sim_url, tokens, policy)

    return make


def tokens_of(client: PartnerCenterClient) -> TokenProvider:
    tokens = client._tokens
    assert isinstance(tokens, TokenProvider)
    return tokens


async def wire(sim: PartnerClient) -> list[dict[str, Any]]:
    """Every call the simulator answered (sign-ins included), oldest first."""
    return list(reversed((await sim.sim("GET", "/requests?limit=10000"))["items"]))


def sign_ins(log: list[dict[str, Any]]) -> int:
    return sum(1 for r in log if r["path"].endswith("/oauth2/token"))


async def add_fault(sim: PartnerClient, **spec: Any) -> None:
    await sim.sim("POST", "/faults", spec, status=201)


# -- sign-in and the token cache -----------------------------------------------------------------


async def test_concurrent_calls_share_one_sign_in(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    before = sign_ins(await wire(sim))
    client = make_client()
    replies = await asyncio.gather(
        *(client.call("GET", MPN, params=RESELLER_MPN) for _ in range(20))
    )
    assert {r.status for r in replies} == {200}
    assert tokens_of(client).sign_ins == 1
    assert sign_ins(await wire(sim)) - before == 1


async def test_a_token_is_refreshed_before_it_expires_not_after(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    clock = ManualClock()
    client = make_client(clock=clock)
    tokens = tokens_of(client)
    await client.call("GET", MPN, params=RESELLER_MPN)
    clock.now += 3600 - EARLY - 1  # the simulator's tokens last 3,600 s
    await client.call("GET", MPN, params=RESELLER_MPN)
    assert tokens.sign_ins == 1
    clock.now += 2  # inside the early-refresh margin
    await client.call("GET", MPN, params=RESELLER_MPN)
    assert tokens.sign_ins == 2


async def test_a_401_signs_in_again_once_and_the_call_goes_through(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    client = make_client()
    await client.call("GET", MPN, params=RESELLER_MPN)
    await add_fault(sim, method="GET", path=f"^{MPN}$", status=401, times=1)  # token revoked
    reply = await client.call("GET", MPN, params=RESELLER_MPN, request_id="rid-401")
    assert reply.body["mpnId"] == "2000002"
    assert tokens_of(client).sign_ins == 2
    tail = [(r["path"].rsplit("/", 1)[-1], r["status"]) for r in (await wire(sim))[-3:]]
    assert tail == [("mpn", 401), ("token", 200), ("mpn", 200)]


async def test_a_401_that_persists_after_signing_in_again_fails_without_looping(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    client = make_client()
    await add_fault(sim, method="GET", path=f"^{MPN}$", status=401, code=400, times=5)
    with pytest.raises(PartnerCenterError) as caught:
        await client.call("GET", MPN, params=RESELLER_MPN)
    assert (caught.value.status, caught.value.code) == (401, 400)
    assert tokens_of(client).sign_ins == 2
    faults = (await sim.sim("GET", "/faults"))["items"]
    assert faults[0]["fired"] == 2  # the call and its one retry with a fresh token


async def test_a_refused_sign_in_fails_the_call_with_401_and_is_not_retried(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    before = sign_ins(await wire(sim))
    client = make_client(secret="wrong-secret")
    with pytest.raises(PartnerCenterError) as caught:
        await client.call("GET", MPN, params=RESELLER_MPN)
    assert caught.value.status == 401
    assert "sign-in refused" in caught.value.description
    assert sign_ins(await wire(sim)) - before == 1


# -- headers -------------------------------------------------------------------------------------


async def test_every_call_carries_ms_request_id_and_ms_correlation_id(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    client = make_client()
    rid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    reply = await client.call("GET", MPN, params=RESELLER_MPN, request_id=rid, correlation_id=cid)
    assert reply.ms_request_id == rid
    for _ in range(3):
        await client.call("GET", MPN, params=RESELLER_MPN)
    calls = [r for r in await wire(sim) if r["path"] == MPN]
    assert (calls[0]["msRequestId"], calls[0]["msCorrelationId"]) == (rid, cid)
    generated = calls[1:]
    for record in generated:
        uuid.UUID(record["msRequestId"]), uuid.UUID(record["msCorrelationId"])
    assert len({r["msRequestId"] for r in generated}) == 3  # a new id for each logical call


async def test_every_retry_of_a_call_keeps_its_ms_request_id(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    client = make_client(RetryPolicy(attempts=4, backoff=0.01, jitter=0.0))
    await add_fault(sim, method="GET", path=f"^{MPN}$", status=503, times=2)
    await add_fault(sim, method="GET", path=f"^{MPN}$", reset=True, times=1)
    reply = await client.call("GET", MPN, params=RESELLER_MPN, request_id="rid-retries")
    assert reply.status == 200
    calls = [(r["msRequestId"], r["status"]) for r in await wire(sim) if r["path"] == MPN]
    assert calls == [("rid-retries", 503), ("rid-retries", 503), ("rid-retries", 200)]


# -- errors --------------------------------------------------------------------------------------


async def test_a_4xx_raises_a_typed_error_with_microsofts_code_and_description(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    client = make_client()
    with pytest.raises(PartnerCenterError) as caught:
        await client.call("GET", MPN, params={"mpnId": "9999999"}, request_id="rid-404")
    error = caught.value
    assert (error.status, error.code, error.ms_request_id) == (404, 3000, "rid-404")
    assert error.description == "Partner Organization with partner_id 9999999 could not be found"
    assert not error.retryable
    assert error.body["source"] == "PartnerFD"
    assert [r["status"] for r in await wire(sim) if r["path"] == MPN] == [404]  # not retried


async def test_the_throttling_body_is_parsed_and_a_long_retry_after_is_not_slept_on(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    client = make_client(RetryPolicy(backoff=0.01, jitter=0.0, max_retry_after=1))
    await add_fault(sim, method="GET", path=f"^{MPN}$", status=429, retryAfter=5, times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(PartnerCenterError) as caught:
        await client.call("GET", MPN, params=RESELLER_MPN)
    assert loop.time() - started < 1.0
    error = caught.value
    assert (error.status, error.code, error.retry_after) == (429, None, 5.0)
    assert error.description == "Rate limit is exceeded. Try again in 5 seconds."
    assert error.retryable


async def test_a_retry_after_within_the_cap_is_waited_then_the_call_succeeds(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    client = make_client()
    await add_fault(sim, method="GET", path=f"^{MPN}$", status=429, retryAfter=1, times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply = await client.call("GET", MPN, params=RESELLER_MPN)
    assert reply.status == 200
    assert loop.time() - started >= 1.0


async def test_a_non_json_error_body_is_a_typed_error_not_a_crash(
    make_client: MakeClient, sim: PartnerClient
) -> None:
    """An HTTP layer in front of Partner Center answers in plain text (here: the simulator's
    server refusing an oversized header)."""
    client = make_client()
    with pytest.raises(PartnerCenterError) as caught:
        await client.call("GET", MPN, params=RESELLER_MPN, headers={"X-Big": "a" * 9000})
    error = caught.value
    assert (error.status, error.code, error.body) == (400, None, None)
    assert error.description.startswith("Got more than 8190 bytes")


async def test_no_answer_in_time_is_unavailable_with_the_calls_request_id(
    sim: PartnerClient, sim_url: str
) -> None:
    await add_fault(sim, method="GET", path=f"^{MPN}$", latencyMs=1000)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as short:
        tokens = TokenProvider(short, sim_url, PROVIDER["tenant_id"], PROVIDER["client_id"],
                               PROVIDER["client_secret"])  # fmt: skip
        policy = RetryPolicy(attempts=2, backoff=0.01, jitter=0.0)
        client = PartnerCenterClient(short, sim_url, tokens, policy)
        with pytest.raises(UpstreamUnavailable) as caught:
            await client.call("GET", MPN, params=RESELLER_MPN, request_id="rid-slow")
    assert caught.value.ms_request_id == "rid-slow"
    assert client.calls == 2  # retried once, then given up
    await sim.sim("DELETE", "/faults", status=204)


async def test_a_sign_in_that_does_not_answer_is_unavailable_not_a_crash(sim_url: str) -> None:
    """A timeout while signing in must surface as the port's error type, which the workflow
    engine maps to a wait; a bare ``TimeoutError`` would escape it."""
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        login_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as short:
            tokens = TokenProvider(short, login_url, PROVIDER["tenant_id"],
                                   PROVIDER["client_id"], PROVIDER["client_secret"])  # fmt: skip
            policy = RetryPolicy(attempts=2, backoff=0.01, jitter=0.0)
            client = PartnerCenterClient(short, sim_url, tokens, policy)
            with pytest.raises(UpstreamUnavailable):
                await client.call("GET", MPN, params=RESELLER_MPN)
