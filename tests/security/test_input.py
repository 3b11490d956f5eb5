"""Hostile northbound input: each refusal is a 4xx ``Problem`` naming the field and the rule, and
leaves nothing behind — no operation in the journal, no call to Partner Center."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulator.context import SIMULATOR
from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.security.conftest import operation_ids, upstream_calls
from tests.simulator.conftest import PartnerClient

SUBSCRIPTION = f"/v1/customers/{uuid.uuid4()}/subscriptions/{uuid.uuid4()}"
PROBLEM_KEYS = {"code", "message", "field", "correlationId"}


@pytest.fixture
async def gw(make_gateway: MakeGateway) -> Gateway:
    """Without API keys: these are the input rules, which hold the same for every caller (with
    keys on, a customer the caller does not own is a 404 before its body is even read)."""
    return await make_gateway(auth="off")


async def assert_nothing_left(gw: Gateway, sim: PartnerClient) -> None:
    assert await operation_ids(gw) == set()
    assert await upstream_calls(sim) == []


async def refused(resp: Any, status: int, field: str, code: str | None = None) -> str:
    """The refusal's message, after checking it is the gateway's one JSON error shape."""
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "application/json", text
    body = json.loads(text)
    assert set(body) == PROBLEM_KEYS, body
    assert body["field"] == field, body
    if code is not None:
        assert body["code"] == code, body
    return str(body["message"])


def order_text() -> str:
    return json.dumps(purchase_order())


async def post_raw(
    gw: Gateway, path: str, raw: bytes, content_type: str = "application/json", **headers: str
) -> Any:
    sent = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": content_type, **headers}
    return await gw.http.post(path, data=raw, headers=sent)


# -- size ----------------------------------------------------------------------------------------


async def test_a_body_over_the_default_limit_is_a_413_naming_the_limit(
    gw: Gateway, sim: PartnerClient
) -> None:
    order = purchase_order()
    order["customer"]["newTenant"]["companyName"] = "x" * (256 * 1024)  # 256 KiB and then some
    resp = await post_raw(gw, "/v1/orders", json.dumps(order).encode())

    message = await refused(resp, 413, "body", "body_too_large")
    assert "262144 bytes" in message
    assert "PCGW_MAX_BODY_BYTES" in message
    await assert_nothing_left(gw, sim)


async def test_the_limit_is_a_setting_and_holds_for_a_chunked_body_too(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(max_body_bytes=4096)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit is met mid-read
        for _ in range(8):
            yield b" " * 1024
        yield order_text().encode()

    resp = await gw.http.post(
        "/v1/orders",
        data=chunks(),
        headers={"Idempotency-Key": "chunked", "Content-Type": "application/json"},
    )
    assert "4096 bytes" in await refused(resp, 413, "body", "body_too_large")
    small = await gw.post("/v1/orders", purchase_order())
    assert small.status == 202, await small.text()  # under the limit, the same order is taken


async def test_the_simulator_refuses_an_oversized_body_in_microsofts_shape(
    sim: PartnerClient,
) -> None:
    raw = json.dumps({"padding": "x" * (4 * 1024 * 1024)}).encode()
    resp = await sim.http.post(
        "/v1/customers",
        data=io.BytesIO(raw),
        headers={"Authorization": f"Bearer {sim.token}", "Content-Type": "application/json"},
    )
    body = await resp.json()
    assert resp.status == 413
    assert set(body) == {"code", "description", "data", "source"}
    assert body["code"] == 800002


# -- strict JSON -----------------------------------------------------------------------------


def _with(text: str, old: str, new: str) -> bytes:
    assert old in text
    return text.replace(old, new, 1).encode()


ORDER = order_text()
QUANTITY = '"quantity": 5'
STRICT_CASES = [
    pytest.param(b"\xff\xfe" + ORDER.encode("utf-16-le"), "not UTF-8", id="UTF-16"),
    pytest.param(_with(ORDER, "Contoso Ltd", "Contoso \xe9").replace(b"\xc3\xa9", b"\xe9"),
                 "not UTF-8", id="Latin-1 byte"),
    pytest.param(b"\xef\xbb\xbf" + ORDER.encode(), "byte-order mark", id="BOM"),
    pytest.param(_with(ORDER, QUANTITY, '"quantity": 5, "quantity": 500'),
                 'the key \\"quantity\\" appears twice', id="duplicate key"),
    pytest.param(_with(ORDER, QUANTITY, '"quantity": NaN'), "NaN is not a JSON number", id="NaN"),
    pytest.param(_with(ORDER, QUANTITY, '"quantity": -Infinity'), "-Infinity", id="-Infinity"),
    pytest.param(_with(ORDER, QUANTITY, '"quantity": 1e999'), "out of range", id="1e999"),
    pytest.param(_with(ORDER, QUANTITY, '"quantity": ' + "9" * 5000), "more than 40 digits",
                 id="5,000-digit integer"),
    pytest.param(_with(ORDER, "Contoso Ltd", "Contoso\\u0000Ltd"), "NUL", id="NUL in a string"),
    pytest.param(_with(ORDER, "Contoso Ltd", "Contoso\\ud800"), "unpaired surrogate",
                 id="lone surrogate"),
    pytest.param(_with(ORDER, '"lines": [', '"lines": [' + "[" * 40 + "]" * 40 + ", "),
                 "nests deeper than 32", id="deep nesting"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "nests deeper", id="100,000 brackets"),
    pytest.param(b'{"customer": ', "Expecting", id="truncated"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "rule"), STRICT_CASES)
async def test_json_that_breaks_a_rule_is_a_400_naming_it_and_journals_nothing(
    gw: Gateway, sim: PartnerClient, raw: bytes, rule: str
) -> None:
    resp = await post_raw(gw, "/v1/orders", raw)
    message = await refused(resp, 400, "body", "invalid_json")
    assert rule in json.dumps(message) or rule in message, message
    await assert_nothing_left(gw, sim)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(b"[]", "an array"), (b'"order"', "a string"), (b"null", "null"), (b"5", "a number")],
)
async def test_a_top_level_that_is_not_an_object_is_refused(
    gw: Gateway, sim: PartnerClient, raw: bytes, kind: str
) -> None:
    resp = await post_raw(gw, f"{SUBSCRIPTION}/seats", raw)
    message = await refused(resp, 400, "body", "invalid_request")
    assert message.endswith(f"must be a JSON object, not {kind}")
    await assert_nothing_left(gw, sim)


async def test_a_repeated_key_in_a_seat_change_is_refused_not_resolved_either_way(
    gw: Gateway, sim: PartnerClient
) -> None:
    resp = await post_raw(gw, f"{SUBSCRIPTION}/seats", b'{"quantity": 5, "quantity": 500}')
    assert "appears twice" in await refused(resp, 400, "body", "invalid_json")
    await assert_nothing_left(gw, sim)


# -- content type ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "rule"),
    [
        ("text/plain", 'given: "text/plain"'),
        ("application/x-www-form-urlencoded", "must be application/json"),
        ("multipart/form-data; boundary=x", "must be application/json"),
        ("application/json; charset=latin-1", 'charset must be utf-8 (given: "latin-1")'),
    ],
)
async def test_a_write_that_is_not_json_by_its_content_type_is_a_415(
    gw: Gateway, sim: PartnerClient, content_type: str, rule: str
) -> None:
    resp = await post_raw(gw, "/v1/orders", ORDER.encode(), content_type)
    assert rule in await refused(resp, 415, "Content-Type", "unsupported_media_type")
    await assert_nothing_left(gw, sim)


async def test_a_write_with_a_body_and_no_content_type_is_a_415(
    gw: Gateway, sim: PartnerClient
) -> None:
    resp = await gw.http.post(
        "/v1/orders",
        data=ORDER.encode(),
        headers={"Idempotency-Key": "no-type"},
        skip_auto_headers=["Content-Type"],
    )
    assert "given: none" in await refused(resp, 415, "Content-Type", "unsupported_media_type")
    await assert_nothing_left(gw, sim)


async def test_json_with_a_utf8_charset_or_a_json_suffix_type_is_taken(gw: Gateway) -> None:
    for content_type in ("application/json; charset=UTF-8", "application/vnd.order+json"):
        resp = await post_raw(gw, "/v1/orders", ORDER.encode(), content_type)
        assert resp.status == 202, await resp.text()


async def test_a_write_without_a_body_needs_no_content_type(gw: Gateway) -> None:
    resp = await gw.http.post(
        f"{SUBSCRIPTION}/suspend",
        headers={"Idempotency-Key": "bodiless"},
        skip_auto_headers=["Content-Type"],
    )
    assert resp.status == 202, await resp.text()


# -- header ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("k" * 256, id="256 characters"),
        pytest.param("order\t1", id="tab"),
        pytest.param("order\u2028one", id="line separator"),
        pytest.param("order\u200bone\x85", id="next-line control"),
    ],
)
async def test_an_idempotency_key_that_could_not_be_echoed_safely_is_refused(
    gw: Gateway, sim: PartnerClient, key: str
) -> None:
    resp = await gw.http.post(
        "/v1/orders", data=ORDER.encode(), headers={"Idempotency-Key": key,
                                                   "Content-Type": "application/json"}
    )  # fmt: skip
    await refused(resp, 400, "Idempotency-Key", "invalid_idempotency_key")
    await assert_nothing_left(gw, sim)


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("c" * 129, id="129 characters"),
        pytest.param("abc\tdef", id="tab"),
        pytest.param("caf\u00e9", id="not ASCII"),
    ],
)
async def test_a_correlation_id_that_could_not_be_echoed_safely_is_refused_not_swapped(
    gw: Gateway, sim: PartnerClient, given: str
) -> None:
    resp = await post_raw(gw, "/v1/orders", ORDER.encode(), **{"X-Correlation-Id": given})
    message = await refused(resp, 400, "X-Correlation-Id", "invalid_correlation_id")
    assert given not in message
    assert uuid.UUID(resp.headers["X-Correlation-Id"])  # the answer carries an id of our own
    await assert_nothing_left(gw, sim)


async def test_a_good_correlation_id_is_echoed_as_given(gw: Gateway) -> None:
    given = "market-42:order/7 (retry)"
    resp = await gw.http.get("/v1/operations", headers={"X-Correlation-Id": given})
    assert resp.status == 200
    assert resp.headers["X-Correlation-Id"] == given


async def test_control_characters_in_a_header_never_reach_the_gateway(
    gw: Gateway, sim: PartnerClient
) -> None:
    """aiohttp's parser refuses them before any handler: 400, and the connection answered."""
    url = gw.http.make_url("/v1/orders")
    reader, writer = await asyncio.open_connection(url.host, url.port)
    body = ORDER.encode()
    auth = gw.http.session.headers.get("Authorization")
    head = (
        f"POST /v1/orders HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        + (f"Authorization: {auth}\r\n" if auth else "")
    ).encode()
    writer.write(head + b"Idempotency-Key: order\x01one\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), answer
    assert b"Traceback" not in answer
    await assert_nothing_left(gw, sim)


# -- path ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/v1/customers/contoso/subscriptions/{uuid.uuid4()}/seats", "customer"),
        (f"/v1/customers/{uuid.uuid4()}/subscriptions/..%2F..%2Fcarts/seats", "subscription"),
        (f"/v1/customers/{uuid.uuid4()}/subscriptions/{uuid.uuid4()}x/cancel", "subscription"),
        (f"/v1/customers/{uuid.uuid4()}%0A/subscriptions/{uuid.uuid4()}/cancel", "customer"),
        (f"/v1/customers/{uuid.uuid4()}/transfers/not-a-transfer/cancel", "transfer"),
        ("/v1/operations/1%20OR%201=1/retry", "operation"),
    ],
)
async def test_a_path_id_that_is_not_a_guid_is_refused_before_any_call(
    gw: Gateway, sim: PartnerClient, path: str, field: str
) -> None:
    resp = await gw.http.post(path, json={"quantity": 5}, headers={"Idempotency-Key": "p"})
    assert "must be a GUID" in await refused(resp, 400, field, "invalid_request")
    await assert_nothing_left(gw, sim)


async def test_an_id_in_a_path_is_named_back_escaped_and_never_echoed_into_a_header(
    gw: Gateway, sim: PartnerClient
) -> None:
    resp = await gw.http.get("/v1/customers/x%0D%0ASet-Cookie:%20a=b%3Cscript%3E")
    message = await refused(resp, 400, "customer", "invalid_request")
    assert "\r" not in message  # escaped, as JSON text
    assert "\n" not in message
    assert '"x\\r\\nSet-Cookie: a=b<script>"' in message
    assert "Set-Cookie" not in resp.headers
    resp = await gw.http.get("/v1/operations/zzz")
    await refused(resp, 400, "operation", "invalid_request")
    assert await upstream_calls(sim) == []


async def test_the_simulator_is_not_reached_by_a_read_with_a_bad_id(
    gw: Gateway, sim_http: Any
) -> None:
    world = sim_http.server.app[SIMULATOR].world
    before = len(world.requests)
    for path in (
        "/v1/customers/..%2F_sim%2Freset",
        f"/v1/customers/{uuid.uuid4()}%20/subscriptions.csv",
    ):
        resp = await gw.http.get(path)
        assert resp.status == 400, await resp.text()
    assert len(world.requests) == before
