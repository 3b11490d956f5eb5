"""Fault injection (``/_sim/faults``): matching, bodies, counts, chance, delay, dropped
connections, and that a faulted call changes nothing."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from tests.simulator.conftest import PartnerClient, customer_body


async def add(pc: PartnerClient, **rule: Any) -> str:
    return str((await pc.sim("POST", "/faults", rule, status=201))["id"])


async def statuses(pc: PartnerClient, n: int, path: str = "/v1/customers") -> list[int]:
    return [(await pc.call("GET", path)).status for _ in range(n)]


async def test_a_fault_answers_its_status_and_code_in_a_partner_center_body(
    pc: PartnerClient,
) -> None:
    await add(pc, method="GET", path="^/v1/customers$", status=503, code=800003)
    body = await pc.fail("GET", "/v1/customers", None, 503, 800003)
    assert body["description"]
    assert (await pc.call("GET", "/v1/profiles/mpn")).status == 200


async def test_path_is_a_regex_searched_in_the_path_with_v1_and_without_the_query(
    pc: PartnerClient,
) -> None:
    await add(pc, path="v1/cust", status=500)
    assert (await pc.call("GET", "/v1/customers?size=5")).status == 500
    assert (await pc.call("GET", "/v1/profiles/mpn?mpnId=1000001")).status == 200
    await pc.sim("DELETE", "/faults", status=204)
    await add(pc, path="size=5", status=500)
    assert (await pc.call("GET", "/v1/customers?size=5")).status == 200


async def test_method_must_match(pc: PartnerClient) -> None:
    await add(pc, method="post", path="/v1/customers", status=500)
    assert (await pc.call("GET", "/v1/customers")).status == 200
    assert (
        await pc.call("POST", "/v1/customers", customer_body("m.onmicrosoft.com"))
    ).status == 500


async def test_times_fires_that_many_times_then_lets_calls_through(pc: PartnerClient) -> None:
    fault_id = await add(pc, path="/v1/customers", status=500, times=2)
    assert await statuses(pc, 4) == [500, 500, 200, 200]
    listed = (await pc.sim("GET", "/faults"))["items"]
    assert [(f["id"], f["remaining"]) for f in listed] == [(fault_id, 0)]


async def test_without_times_a_fault_fires_until_deleted(pc: PartnerClient) -> None:
    fault_id = await add(pc, path="/v1/customers", status=500)
    assert await statuses(pc, 3) == [500, 500, 500]
    await pc.sim("DELETE", f"/faults/{fault_id}", status=204)
    assert await statuses(pc, 1) == [200]


async def test_probability_with_a_seed_repeats_the_same_sequence(pc: PartnerClient) -> None:
    await add(pc, path="/v1/customers", status=500, probability=0.5, seed=42)
    first = await statuses(pc, 20)
    await pc.sim("DELETE", "/faults", status=204)
    await add(pc, path="/v1/customers", status=500, probability=0.5, seed=42)
    second = await statuses(pc, 20)
    assert first == second
    assert set(first) == {200, 500}


async def test_probability_zero_never_fires(pc: PartnerClient) -> None:
    await add(pc, path="/v1/customers", status=500, probability=0, seed=1)
    assert await statuses(pc, 5) == [200] * 5


async def test_retry_after_is_sent_as_a_header(pc: PartnerClient) -> None:
    await add(pc, path="/v1/customers", status=503, retryAfter=7)
    resp = await pc.call("GET", "/v1/customers")
    assert (resp.status, resp.headers["Retry-After"]) == (503, "7")


async def test_a_429_fault_carries_microsofts_throttling_body(pc: PartnerClient) -> None:
    await add(pc, path="/v1/customers", status=429, retryAfter=12)
    resp = await pc.call("GET", "/v1/customers")
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "12"
    assert await resp.json() == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 12 seconds.",
    }


async def test_latency_delays_the_answer_and_then_lets_it_through(pc: PartnerClient) -> None:
    await add(pc, path="/v1/customers", latencyMs=150)
    started = time.monotonic()
    resp = await pc.call("GET", "/v1/customers")
    assert resp.status == 200
    assert time.monotonic() - started >= 0.15


async def test_reset_drops_the_connection(pc: PartnerClient) -> None:
    await add(pc, path="/v1/customers", reset=True, times=1)
    with pytest.raises(aiohttp.ClientConnectionError):
        await pc.call("GET", "/v1/customers")
    assert (await pc.call("GET", "/v1/customers")).status == 200


async def test_a_dropped_post_creates_nothing(pc: PartnerClient) -> None:
    await add(pc, method="POST", path="/v1/customers$", reset=True, times=1)
    with pytest.raises(aiohttp.ClientConnectionError):
        await pc.call("POST", "/v1/customers", customer_body("dropped.onmicrosoft.com"))
    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 0


async def test_reset_after_applies_the_call_then_drops_its_answer(pc: PartnerClient) -> None:
    """The hard case for a client: the change is made, the answer lost; the same
    MS-RequestId then gets the stored answer, and nothing is made twice."""
    await add(pc, method="POST", path="/v1/customers$", resetAfter=True, times=1)
    body = customer_body("applied.onmicrosoft.com")
    headers = {"MS-RequestId": "5d0bd3a4-0a4c-4e7c-9a57-1a5e2c3b4d01"}
    with pytest.raises(aiohttp.ClientConnectionError):
        await pc.call("POST", "/v1/customers", body, headers)
    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 1
    logged = (await pc.sim("GET", "/requests"))["items"]  # newest first
    assert [(r["method"], r["status"]) for r in logged if r["path"] == "/v1/customers"] == [
        ("GET", 200),
        ("POST", 201),
    ]
    retried = await pc.call("POST", "/v1/customers", body, headers)
    assert retried.status == 201
    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 1


async def test_a_body_fault_answers_exactly_those_bytes_and_changes_nothing(
    pc: PartnerClient,
) -> None:
    await add(pc, method="POST", path="/v1/customers$", body='{"id": "trunc', times=1)
    resp = await pc.call("POST", "/v1/customers", customer_body("malformed.onmicrosoft.com"))
    assert (resp.status, resp.content_type) == (200, "application/json")
    assert await resp.read() == b'{"id": "trunc'
    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 0
    await add(pc, path="/v1/customers$", status=502, body="x", bodyRepeat=100_000, times=1)
    resp = await pc.call("GET", "/v1/customers")
    assert resp.status == 502
    assert len(await resp.read()) == 100_000


async def test_a_faulted_post_creates_nothing(pc: PartnerClient) -> None:
    await add(pc, method="POST", path="/v1/customers$", status=500, times=1)
    body = customer_body("faulted.onmicrosoft.com")
    assert (await pc.call("POST", "/v1/customers", body)).status == 500
    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 0
    assert (await pc.call("POST", "/v1/customers", body)).status == 201


async def test_a_fault_fires_before_the_bearer_check(pc: PartnerClient) -> None:
    await add(pc, path="/v1/customers", status=502)
    resp = await pc.http.get("/v1/customers")
    assert resp.status == 502


async def test_faults_do_not_touch_the_control_plane_or_sign_in(pc: PartnerClient) -> None:
    await add(pc, path=".*", status=500)
    assert (await pc.http.get("/_sim/clock")).status == 200
    await pc.as_partner("11111111-1111-4111-8111-111111111111", "provider-secret", pc.tenant_id)


async def test_list_and_delete_faults(pc: PartnerClient) -> None:
    first = await add(pc, path="/v1/a", status=500)
    second = await add(pc, method="GET", path="/v1/b", status=429, times=3, retryAfter=2)
    listed = (await pc.sim("GET", "/faults"))["items"]
    assert [f["id"] for f in listed] == [first, second]
    assert {k: listed[1][k] for k in ("method", "path", "status", "times", "retryAfter")} == {
        "method": "GET",
        "path": "/v1/b",
        "status": 429,
        "times": 3,
        "retryAfter": 2,
    }
    await pc.sim("DELETE", f"/faults/{first}", status=204)
    assert [f["id"] for f in (await pc.sim("GET", "/faults"))["items"]] == [second]
    await pc.sim("DELETE", "/faults", status=204)
    assert (await pc.sim("GET", "/faults"))["items"] == []


async def test_deleting_an_unknown_fault_is_404(pc: PartnerClient) -> None:
    resp = await pc.http.delete("/_sim/faults/fault-999")
    assert resp.status == 404
    assert (await resp.json())["source"] == "Simulator"


async def test_adding_a_fault_does_not_change_the_ids_the_world_hands_out(
    pc: PartnerClient,
) -> None:
    plain = await pc.new_customer("ids.onmicrosoft.com")
    await pc.sim("POST", "/reset", status=204)
    await add(pc, path="/v1/nothing", status=500)
    with_fault = await pc.new_customer("ids.onmicrosoft.com")
    assert with_fault["id"] == plain["id"]


@pytest.mark.parametrize(
    "rule",
    [
        {"path": "/v1/customers"},
        {"path": "/v1/customers", "latencyMs": 0},
        {"status": 200},
        {"status": 500, "times": 0},
        {"status": 500, "probability": 1.5},
        {"status": 500, "path": "(unclosed"},
        {"status": 500, "latencyMs": -1},
        {"status": "boom"},
    ],
)
async def test_a_bad_fault_is_400_and_not_added(pc: PartnerClient, rule: dict[str, Any]) -> None:
    resp = await pc.http.post("/_sim/faults", json=rule)
    body = await resp.json()
    assert resp.status == 400, body
    assert body["source"] == "Simulator"
    assert (await pc.sim("GET", "/faults"))["items"] == []
