"""Partner Center's rate limit: per partner tenant, on the wall clock, ``/_sim`` exempt."""

from __future__ import annotations

import re

from tests.simulator.conftest import PartnerClient


async def limit(pc: PartnerClient, per_minute: int) -> None:
    await pc.sim("PUT", "/config", {"rateLimitPerMinute": per_minute})


async def statuses(pc: PartnerClient, n: int) -> list[int]:
    return [(await pc.call("GET", "/v1/customers")).status for _ in range(n)]


async def test_the_call_past_the_limit_gets_429_with_microsofts_body(pc: PartnerClient) -> None:
    await limit(pc, 3)
    assert await statuses(pc, 3) == [200, 200, 200]
    resp = await pc.call("GET", "/v1/customers")
    assert resp.status == 429
    seconds = resp.headers["Retry-After"]
    assert seconds.isdigit()
    assert 1 <= int(seconds) <= 60
    body = await resp.json()
    assert body == {
        "statusCode": 429,
        "message": f"Rate limit is exceeded. Try again in {seconds} seconds.",
    }
    assert re.fullmatch(r"Rate limit is exceeded\. Try again in \d+ seconds\.", body["message"])


async def test_every_v1_route_counts(pc: PartnerClient) -> None:
    await limit(pc, 3)
    await pc.ok("GET", "/v1/customers")
    await pc.ok("GET", "/v1/profiles/mpn")
    await pc.call("GET", "/v1/nowhere")
    assert (await pc.call("GET", "/v1/profiles/mpn")).status == 429


async def test_the_limit_is_per_partner_tenant(pc: PartnerClient, direct_pc: PartnerClient) -> None:
    await limit(pc, 2)
    assert await statuses(pc, 3) == [200, 200, 429]
    assert await statuses(direct_pc, 2) == [200, 200]


async def test_the_control_plane_is_exempt(pc: PartnerClient) -> None:
    await limit(pc, 1)
    await pc.ok("GET", "/v1/customers")
    for _ in range(5):
        await pc.sim("GET", "/clock")
    assert (await pc.call("GET", "/v1/customers")).status == 429


async def test_zero_turns_the_limit_off(pc: PartnerClient) -> None:
    await limit(pc, 0)
    assert await statuses(pc, 30) == [200] * 30


async def test_refused_calls_do_not_count(pc: PartnerClient) -> None:
    await limit(pc, 3)
    assert await statuses(pc, 8) == [200, 200, 200] + [429] * 5
    await limit(pc, 4)
    assert await statuses(pc, 2) == [200, 429]


async def test_calls_without_a_valid_token_do_not_use_the_budget(pc: PartnerClient) -> None:
    await limit(pc, 2)
    for _ in range(5):
        assert (await pc.http.get("/v1/customers")).status == 401
    assert await statuses(pc, 2) == [200, 200]


async def test_reset_restores_the_default_limit_and_clears_the_count(pc: PartnerClient) -> None:
    await limit(pc, 1)
    assert await statuses(pc, 2) == [200, 429]
    await pc.sim("POST", "/reset", status=204)
    assert (await pc.sim("GET", "/config"))["rateLimitPerMinute"] == 500
    assert await statuses(pc, 3) == [200, 200, 200]
