"""Partner Center answering garbage — HTML where JSON was due, JSON of the wrong shape, bodies
larger than the gateway reads — through the gateway against the simulator's ``body`` faults:
each becomes a typed upstream error with its status kept, so a 5xx is retried (with the same
``MS-RequestId``) and anything else fails the operation with a sentence a person can act on.
Never an unhandled exception, never a stuck operation."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.partner_center import PartnerCenterClient, RetryPolicy, TokenProvider
from gateway.upstream import UnreadableAnswer
from tests.gateway.conftest import MakeGateway, purchase_order
from tests.security.conftest import upstream_calls
from tests.simulator.conftest import PartnerClient

#: Retries as production makes them, minus the waiting.
FAST: dict[str, Any] = {"pc_retry_backoff_seconds": 0.01, "pc_retry_jitter_seconds": 0.0}
HTML = "<html><body><h1>502 Bad Gateway</h1><script>alert(1)</script></body></html>"


async def fault(sim: PartnerClient, **spec: Any) -> None:
    await sim.sim("POST", "/faults", spec, status=201)


async def state(sim: PartnerClient) -> dict[str, Any]:
    return dict(await sim.sim("GET", "/state"))


def posts(calls: list[dict[str, Any]], suffix: str) -> dict[str, list[int]]:
    """Statuses of the POSTs whose path ends with ``suffix``, by ``MS-RequestId``."""
    out: dict[str, list[int]] = {}
    for call in calls:
        if call["method"] == "POST" and call["path"].endswith(suffix):
            out.setdefault(call["msRequestId"], []).append(call["status"])
    return out


async def test_a_checkout_answered_with_html_fails_the_purchase_saying_what_came_back(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(**FAST)
    await fault(sim, method="POST", path="/checkout$", body=HTML)  # answered as a 200

    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])

    assert op["status"] == "failed", op
    error = op["error"]
    assert (error["step"], error["partnerCenterStatus"]) == ("checkout", 200)
    assert error.get("partnerCenterCode") is None  # none in a body that is not Microsoft's
    assert "HTTP 200 with a body that is not JSON" in error["message"]
    assert "check in Partner Center" in error["message"]
    assert error["msRequestId"]
    assert "<script>" not in error["message"] or '"<html>' in error["message"]  # quoted, cut
    assert len(error["message"]) < 500
    assert (await state(sim))["orders"] == []  # the fault answered before anything was made


async def test_a_checkout_answer_cut_short_once_is_asked_again_and_nothing_is_bought_twice(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    """A 2xx the gateway cannot read may be a change made with its answer lost: the same
    MS-RequestId goes again, and Partner Center answers what it did."""
    gw = await make_gateway(**FAST)
    await fault(sim, method="POST", path="/checkout$", body='{"id": "ord', times=1)

    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])

    assert op["status"] == "succeeded", op
    assert list(posts(await upstream_calls(sim), "/checkout").values()) == [[200, 201]]
    assert len((await state(sim))["orders"]) == 1


async def test_a_5xx_page_once_is_retried_with_the_same_request_id_and_the_purchase_succeeds(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(**FAST)
    await fault(sim, method="POST", path="/checkout$", body=HTML, status=502, times=1)

    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])

    assert op["status"] == "succeeded", op
    # one MS-RequestId, two attempts: the page, then the real answer
    assert list(posts(await upstream_calls(sim), "/checkout").values()) == [[502, 201]]
    assert len((await state(sim))["orders"]) == 1


async def test_an_answer_over_the_read_limit_fails_its_call_naming_the_limit(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(pc_max_response_bytes=64 * 1024, **FAST)
    await fault(sim, method="POST", path="^/v1/customers$", body="x" * 1024, bodyRepeat=100)

    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])

    assert op["status"] == "failed", op
    assert (op["error"]["step"], op["error"]["partnerCenterStatus"]) == ("create_customer", 200)
    assert "larger than the 65,536 bytes the gateway reads" in op["error"]["message"]
    assert (await state(sim))["customers"] == []


async def test_an_oversized_5xx_once_is_retried_like_any_other_5xx(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(pc_max_response_bytes=64 * 1024, **FAST)
    await fault(sim, method="POST", path="/carts$", body="y" * 1024, bodyRepeat=200, status=503,
                times=1)  # fmt: skip

    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])

    assert op["status"] == "succeeded", op
    assert list(posts(await upstream_calls(sim), "/carts").values()) == [[503, 201]]
    assert len((await state(sim))["carts"]) == 1


async def test_garbage_5xx_every_time_fails_as_unavailable_with_the_status_kept(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(pc_retry_attempts=2, max_unavailable_attempts=2, **FAST)
    await fault(sim, method="POST", path="^/v1/customers$", body="<h1>oops</h1>", status=500)

    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])

    assert op["status"] == "failed", op
    error = op["error"]
    assert (error["reason"], error["partnerCenterStatus"]) == ("unavailable", 500)
    assert "<h1>oops</h1>" in error["partnerCenterDescription"]
    assert (await state(sim))["customers"] == []


@pytest.mark.parametrize(
    ("body", "step"),
    [
        ("[]", "create_customer"),
        ('{"companyProfile": {}}', "create_customer"),
    ],
    ids=["an array", "an object without an id"],
)
async def test_an_answer_of_the_wrong_shape_fails_the_operation_never_crashes_a_worker(
    make_gateway: MakeGateway, sim: PartnerClient, body: str, step: str
) -> None:
    gw = await make_gateway(**FAST)
    await fault(sim, method="POST", path="^/v1/customers$", body=body, times=1)

    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])

    assert op["status"] == "failed", op
    assert op["error"]["step"] == step
    assert op["error"]["message"]  # a sentence: what happened, where it is logged or what to do
    assert "Traceback" not in json.dumps(op)
    # The gateway goes on serving: the next purchase (no fault left) succeeds.
    after = await gw.wait((await gw.submit("/v1/orders", purchase_order("fabrikam")))["id"])
    assert after["status"] == "succeeded", after


async def test_a_read_answered_with_garbage_is_a_502_that_says_so(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(**FAST)
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    customer = op["result"]["customerId"]
    await fault(sim, method="GET", path=f"^/v1/customers/{customer}$", body="Service Unavailable")

    resp = await gw.http.get(f"/v1/customers/{customer}")
    body = await resp.json()

    assert resp.status == 502, body
    assert body["code"] == "partner_center_unreadable"
    assert (
        'HTTP 200 with a body that is not JSON (application/json, 19 bytes, starting "Service Unavailable")'
        in body["message"]
    )


# -- what the simulator cannot send: streamed and compressed answers -------------------------


@pytest.fixture
async def odd_upstream() -> AsyncIterator[str]:
    """A real HTTP upstream that signs in and then answers in ways the simulator never does:
    chunked with no length, gzip that inflates 1,000-fold, an oversized sign-in answer."""

    async def sign_in(request: web.Request) -> web.Response:
        if request.match_info["tenant"] == "huge":
            return web.Response(body=b" " * (512 * 1024) + b"{}", content_type="application/json")
        return web.json_response(
            {"access_token": "t.t.t", "expires_in": 3600, "token_type": "Bearer"}
        )

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b'{"items": [')
        for _ in range(64):
            await resp.write(b'"' + b"z" * 32 * 1024 + b'",')
        await resp.write(b'""]}')
        return resp

    async def bomb(request: web.Request) -> web.Response:
        raw = gzip.compress(b"[" + b"0," * (2 * 1024 * 1024) + b"0]")
        return web.Response(body=raw, headers={"Content-Type": "application/json",
                                               "Content-Encoding": "gzip"})  # fmt: skip

    app = web.Application()
    app.router.add_post("/{tenant}/oauth2/token", sign_in)
    app.router.add_get("/v1/chunked", chunked)
    app.router.add_get("/v1/bomb", bomb)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.mark.parametrize("path", ["/v1/chunked", "/v1/bomb"])
async def test_an_answer_without_a_length_or_compressed_is_cut_off_at_the_limit(
    odd_upstream: str, path: str
) -> None:
    async with aiohttp.ClientSession() as session:
        tokens = TokenProvider(session, odd_upstream, "tenant", "client", "secret")
        pc = PartnerCenterClient(session, odd_upstream, tokens, RetryPolicy(attempts=1),
                                 max_body=1024 * 1024)  # fmt: skip
        with pytest.raises(UnreadableAnswer) as caught:
            await pc.call("GET", path)
    assert caught.value.status == 200
    assert "larger than the 1,048,576 bytes" in caught.value.description


async def test_a_sign_in_answer_too_large_to_be_a_token_is_refused_not_read(
    odd_upstream: str,
) -> None:
    async with aiohttp.ClientSession() as session:
        tokens = TokenProvider(session, odd_upstream, "huge", "client", "secret")
        with pytest.raises(UnreadableAnswer) as caught:
            await tokens.token()
    assert caught.value.status == 200
    assert "larger than" in caught.value.description
