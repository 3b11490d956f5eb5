"""Northbound keys and tenancy: two marketplaces on one gateway, each with its own key, each
seeing only its own operations, customers and subscriptions — another's answer exactly as a
missing one (404). No key, a wrong key, a revoked or rotated-out key: 401 with a Bearer
challenge. Keys are kept only as hashes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway import keys
from gateway.app import create_app as create_gateway
from tests.gateway.conftest import (
    MARKETPLACE,
    Gateway,
    MakeGateway,
    fast_settings,
    on_keys,
    purchase_order,
)
from tests.scaleout.conftest import pg_url  # noqa: F401  (PostgreSQL, skipped when absent)
from tests.simulator.conftest import PartnerClient

NOBODY = "00000000-0000-4000-8000-000000000000"


def now() -> datetime:
    return datetime.now(UTC)


async def create_key(database_url: str, name: str) -> str:
    return await on_keys(database_url, lambda store: keys.create(store, name, now()))


Connect = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def connect(gw: Gateway) -> AsyncIterator[Connect]:
    """A client of ``gw``'s server as another caller: ``headers`` as given (none: no key)."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(headers: dict[str, str] | None = None, marketplace: str = "?") -> Gateway:
        session = aiohttp.ClientSession(base_url=str(gw.http.make_url("")), headers=headers)
        sessions.append(session)
        # A ClientSession answers the calls Gateway makes (get, post) as a TestClient does.
        return Gateway(session, marketplace=marketplace, database_url=gw.database_url)  # type: ignore[arg-type]

    yield make
    for session in sessions:
        await session.close()


@pytest.fixture
async def b(gw: Gateway, connect: Connect) -> Gateway:
    """Marketplace B, with its own key, on A's gateway (``gw`` is A)."""
    assert gw.database_url is not None
    key = await create_key(gw.database_url, "marketplace-b")
    return await connect({"Authorization": f"Bearer {key}"}, "marketplace-b")


async def answer(client: Gateway, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else {}
    resp = await client.http.request(method, path, json=body, headers=headers)
    payload = await resp.json() if resp.content_type == "application/json" else await resp.text()
    return resp.status, payload


def without_correlation(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "correlationId"}


async def buy(gw: Gateway, prefix: str = "contoso", **changes: Any) -> dict[str, Any]:
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order(prefix, **changes)))["id"])
    assert op["status"] == "succeeded", op
    return op


def subscription_path(op: dict[str, Any]) -> str:
    customer, [sub] = op["result"]["customerId"], op["result"]["subscriptionIds"]
    return f"/v1/customers/{customer}/subscriptions/{sub}"


async def operations_of(client: Gateway) -> list[dict[str, Any]]:
    status, body = await answer(client, "GET", "/v1/operations?limit=200")
    assert status == 200, body
    return list(body["items"])


# -- who may call ------------------------------------------------------------------------------


async def test_without_a_key_every_route_is_401_with_a_bearer_challenge(
    gw: Gateway, connect: Connect
) -> None:
    anonymous = await connect()
    for method, path, body in [
        ("GET", "/v1/operations", None),
        ("GET", f"/v1/operations/{NOBODY}", None),
        ("POST", "/v1/orders", purchase_order()),
        ("GET", f"/v1/customers/{NOBODY}", None),
        ("GET", "/v1/nothing-here", None),
    ]:
        headers = {"Idempotency-Key": "k-1"} if method == "POST" else {}
        resp = await anonymous.http.request(method, path, json=body, headers=headers)
        problem = await resp.json()
        assert resp.status == 401, (path, problem)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert (problem["code"], problem["field"]) == ("unauthorized", "Authorization")
        assert "Authorization: Bearer <key>" in problem["message"]
        assert problem["correlationId"] == resp.headers["X-Correlation-Id"]
    assert await operations_of(gw) == []  # the refused order left nothing behind


async def test_the_openapi_document_is_public_and_declares_the_key(connect: Connect) -> None:
    status, doc = await answer(await connect(), "GET", "/openapi.json")
    assert status == 200
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert doc["components"]["securitySchemes"]["apiKey"]["name"] == "X-Api-Key"
    assert doc["security"] == [{"bearer": []}, {"apiKey": []}]
    assert "401" in doc["paths"]["/v1/orders"]["post"]["responses"]


async def test_a_wrong_key_or_a_malformed_header_is_401(gw: Gateway, connect: Connect) -> None:
    assert gw.key is not None
    wrong = [
        {"Authorization": "Bearer pcgw_" + "x" * 43},  # the form of a key, not one of ours
        {"Authorization": f"Bearer {gw.key}x"},
        {"Authorization": "Bearer not-a-key"},
        {"X-Api-Key": gw.key[:-1]},
    ]
    for headers in wrong:
        status, problem = await answer(await connect(headers), "GET", "/v1/operations")
        assert (status, problem["code"]) == (401, "unauthorized"), headers
        assert "not valid" in problem["message"]
    status, problem = await answer(
        await connect({"Authorization": f"Basic {gw.key}"}), "GET", "/v1/operations"
    )
    assert (status, problem["field"]) == (401, "Authorization")
    assert "must be `Bearer <API key>`" in problem["message"]


async def test_the_key_works_in_x_api_key_as_well(gw: Gateway, connect: Connect) -> None:
    op = await gw.submit("/v1/orders", purchase_order())
    assert gw.key is not None
    other = await connect({"X-Api-Key": gw.key})
    status, seen = await answer(other, "GET", f"/v1/operations/{op['id']}")
    assert (status, seen["id"]) == (200, op["id"])


async def test_a_gateway_without_any_key_yet_says_how_to_make_one(
    sim_url: str, tmp_path: Path
) -> None:
    settings = fast_settings(sim_url, tmp_path / "fresh.db", auth="keys")
    async with TestClient(TestServer(create_gateway(settings))) as client:
        resp = await client.get("/v1/operations")
        problem = await resp.json()
    assert resp.status == 401
    assert "none has been made yet" in problem["message"]
    assert "pcgw keys create <marketplace>" in problem["message"]


async def test_a_revoked_key_is_401_at_once_and_a_rotated_one_only_after_its_grace(
    gw: Gateway, connect: Connect
) -> None:
    assert gw.database_url is not None
    url = gw.database_url
    old = await create_key(url, "marketplace-c")
    c = await connect({"Authorization": f"Bearer {old}"})
    assert (await answer(c, "GET", "/v1/operations"))[0] == 200

    graced = await on_keys(url, lambda store: keys.rotate(store, "marketplace-c", now(), 3600))
    assert (await answer(c, "GET", "/v1/operations"))[0] == 200  # inside its grace
    new = await on_keys(url, lambda store: keys.rotate(store, "marketplace-c", now()))
    assert (await answer(c, "GET", "/v1/operations"))[0] == 401  # no grace: gone at once
    for key in (graced, new):
        status, _ = await answer(
            await connect({"Authorization": f"Bearer {key}"}), "GET", "/v1/operations"
        )
        assert status == (200 if key == new else 401)

    await on_keys(url, lambda store: keys.revoke(store, "marketplace-c", now()))
    status, problem = await answer(
        await connect({"Authorization": f"Bearer {new}"}), "GET", "/v1/operations"
    )
    assert (status, problem["code"]) == (401, "unauthorized")
    assert (await answer(gw, "GET", "/v1/operations"))[0] == 200  # other keys go on working


def stored(folder: Path) -> list[bytes]:
    """The journal's files as they lie on disk (the database, its WAL and shared memory)."""
    return [p.read_bytes() for p in folder.glob("journal.db*")]


async def test_keys_are_stored_only_as_hashes(gw: Gateway, tmp_path: Path) -> None:
    assert gw.key is not None
    await buy(gw)  # the database holds real work, and has been written through the WAL
    files = stored(tmp_path)
    assert files
    assert not any(gw.key.encode() in data for data in files)
    assert not any(gw.key[len(keys.PREFIX) :].encode() in data for data in files)
    digest = hashlib.sha256(gw.key.encode()).hexdigest().encode()
    assert any(digest in data for data in files)


# -- who sees what -----------------------------------------------------------------------------


async def test_b_gets_404_for_as_operations_as_for_missing_ones_and_lists_none(
    gw: Gateway, b: Gateway
) -> None:
    op = await buy(gw)
    for path in (f"/v1/operations/{op['id']}", f"/v1/operations/{NOBODY}"):
        status, problem = await answer(b, "GET", path)
        assert status == 404
        oid = path.rsplit("/", 1)[-1]
        assert without_correlation(problem) == {
            "code": "not_found",
            "message": f"operation {oid} does not exist",
        }
    status, _ = await answer(b, "POST", f"/v1/operations/{op['id']}/retry")
    assert status == 404
    assert await operations_of(b) == []
    assert [o["id"] for o in await operations_of(gw)] == [op["id"]]


async def test_b_gets_404_for_as_customer_and_subscription_reads_and_writes(
    gw: Gateway, b: Gateway, sim: PartnerClient
) -> None:
    op = await buy(gw)
    customer, path = op["result"]["customerId"], subscription_path(op)
    sub_id = path.rsplit("/", 1)[-1]
    missing_sub = f"subscription {sub_id} of customer {customer} does not exist"
    missing_customer = f"customer {customer} does not exist"
    upgrade = {"planCode": "Microsoft 365 Business Standard (NCE COM 1YR MTH)"}
    refused = [
        ("GET", f"/v1/customers/{customer}", None, missing_customer),
        ("GET", f"/v1/customers/{customer}/subscriptions.csv", None, missing_customer),
        ("GET", f"/v1/customers/{customer}/transfers", None, missing_customer),
        ("GET", path, None, missing_sub),
        ("POST", path + "/seats", {"quantity": 9}, missing_sub),
        ("POST", path + "/cancel", {"reason": "Other"}, missing_sub),
        ("POST", path + "/suspend", {}, missing_sub),
        ("POST", path + "/auto-renew", {"enabled": False}, missing_sub),
        ("POST", path + "/upgrade", upgrade, missing_sub),
    ]
    for method, target, body, message in refused:
        status, problem = await answer(b, method, target, body)
        assert (status, without_correlation(problem)) == (
            404, {"code": "not_found", "message": message},
        ), target  # fmt: skip
    assert await operations_of(b) == []  # no write of B's became an operation
    after = await sim.ok("GET", f"/v1/customers/{customer}/subscriptions/{sub_id}")
    assert (after["quantity"], after["status"], after["autoRenewEnabled"]) == (5, "active", True)
    # A, meanwhile, reads and changes its own.
    assert (await answer(gw, "GET", path))[0] == 200
    seats = await gw.wait((await gw.submit(path + "/seats", {"quantity": 6}))["id"])
    assert seats["status"] == "succeeded", seats


async def test_an_idempotency_key_is_each_marketplaces_own(gw: Gateway, b: Gateway) -> None:
    mine = await gw.submit("/v1/orders", purchase_order("contosoa"), key="order-1")
    theirs = await b.submit("/v1/orders", purchase_order("contosob"), key="order-1")
    assert mine["id"] != theirs["id"]
    assert (await gw.submit("/v1/orders", purchase_order("contosoa"), key="order-1"))["id"] == mine[
        "id"
    ]
    assert [o["id"] for o in await operations_of(b)] == [theirs["id"]]


async def test_a_customer_shared_by_an_existing_tenant_order_shows_each_only_its_own(
    gw: Gateway, b: Gateway
) -> None:
    """B buys for A's customer by its domain (an existing-tenant order): both now serve the
    customer, and each sees and exports only the subscriptions it bought."""
    a_op = await buy(gw)
    customer, a_path = a_op["result"]["customerId"], subscription_path(a_op)
    existing = purchase_order(customer={"existingTenant": {"domain": "contoso.onmicrosoft.com"}})
    b_op = await b.wait((await b.submit("/v1/orders", existing))["id"])
    assert (b_op["status"], b_op["result"]["customerId"]) == ("succeeded", customer), b_op
    b_path = subscription_path(b_op)

    assert (await answer(b, "GET", f"/v1/customers/{customer}"))[0] == 200
    assert (await answer(b, "GET", b_path))[0] == 200
    assert (await answer(b, "GET", a_path))[0] == 404
    assert (await answer(gw, "GET", b_path))[0] == 404
    for client, own, other in ((gw, a_path, b_path), (b, b_path, a_path)):
        status, text = await answer(client, "GET", f"/v1/customers/{customer}/subscriptions.csv")
        assert status == 200
        assert own.rsplit("/", 1)[-1] in text
        assert other.rsplit("/", 1)[-1] not in text


async def test_a_customer_from_before_the_gateway_is_nobodys_until_assigned(
    gw: Gateway, b: Gateway, sim: PartnerClient
) -> None:
    """A customer made straight in Partner Center: 404 to every key; once an operator assigns
    it to A, A reads it and changes the subscription nobody holds — which makes it A's."""
    customer, sub = await sim.customer_with_subscription("before.onmicrosoft.com")
    path = f"/v1/customers/{customer}/subscriptions/{sub['id']}"
    for client in (gw, b):
        assert (await answer(client, "GET", f"/v1/customers/{customer}"))[0] == 404
        assert (await answer(client, "GET", path))[0] == 404
    await gw.assign(customer)
    await b.assign(customer)  # both serve it: the subscription is whoever's changes it first
    assert (await answer(gw, "GET", path))[0] == 200
    assert (await answer(b, "GET", path))[0] == 200
    op = await gw.wait((await gw.submit(path + "/seats", {"quantity": 7}))["id"])
    assert op["status"] == "succeeded", op
    assert (await answer(gw, "GET", path))[0] == 200
    assert (await answer(b, "GET", path))[0] == 404
    assert (await answer(b, "POST", path + "/seats", {"quantity": 8}))[0] == 404


async def test_a_failed_change_on_a_missing_subscription_claims_nothing(
    gw: Gateway, b: Gateway
) -> None:
    """A change of a subscription that is not there fails at Partner Center and makes no one
    its owner: B, serving the same customer, still gets Partner Center's own 404 for it."""
    op = await buy(gw)
    customer = op["result"]["customerId"]
    await b.assign(customer)
    ghost = f"/v1/customers/{customer}/subscriptions/{uuid.uuid4()}"
    failed = await gw.wait((await gw.submit(ghost + "/suspend", {}))["id"])
    assert failed["status"] == "failed", failed
    status, problem = await answer(b, "GET", ghost)
    assert (status, problem["code"]) == (404, "not_found")
    status, _ = await answer(b, "POST", ghost + "/suspend", {})
    assert status == 202  # B may try it too: Partner Center will say it is not there


async def test_with_auth_off_no_key_is_asked_and_all_is_one_marketplaces(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    sandbox = await make_gateway(auth="off")
    customer, _ = await sim.customer_with_subscription("sandbox.onmicrosoft.com")
    assert (await answer(sandbox, "GET", f"/v1/customers/{customer}"))[0] == 200
    op = await buy(sandbox)
    assert [o["id"] for o in await operations_of(sandbox)] == [op["id"]]


async def test_on_postgresql_too_b_sees_none_of_as_and_a_rotated_key_stops(
    make_gateway: MakeGateway,
    pg_url: str,  # noqa: F811
) -> None:
    a = await make_gateway(database_url=pg_url)
    assert a.key is not None
    b_key = await create_key(pg_url, "marketplace-b")
    async with aiohttp.ClientSession(
        base_url=str(a.http.make_url("")), headers={"Authorization": f"Bearer {b_key}"}
    ) as session:
        b = Gateway(session, marketplace="marketplace-b")  # type: ignore[arg-type]
        op = await buy(a)
        customer = op["result"]["customerId"]
        assert (await answer(b, "GET", f"/v1/customers/{customer}"))[0] == 404
        assert (await answer(b, "GET", subscription_path(op)))[0] == 404
        assert await operations_of(b) == []
        assert (await answer(a, "GET", subscription_path(op)))[0] == 200
        await on_keys(pg_url, lambda store: keys.rotate(store, MARKETPLACE, now()))
        assert (await answer(a, "GET", "/v1/operations"))[0] == 401
