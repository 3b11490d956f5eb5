"""``MS-RequestId`` idempotency: a repeated POST replays its first successful answer and changes
nothing; per partner tenant; failures are not stored; reset forgets."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse

from tests.simulator.conftest import PartnerClient, customer_body, line

RID = "5f0c9d52-7a4b-4c1e-9e0a-3d2b1c0f0001"


async def post(pc: PartnerClient, path: str, body: Any = None, rid: str = RID) -> ClientResponse:
    return await pc.call("POST", path, body, headers={"MS-RequestId": rid})


async def same_answer_twice(pc: PartnerClient, path: str, body: Any = None) -> bytes:
    first = await post(pc, path, body)
    first_bytes = await first.read()
    assert 200 <= first.status < 300, first_bytes
    again = await post(pc, path, body)
    assert again.status == first.status
    assert await again.read() == first_bytes
    assert again.headers["MS-RequestId"] == RID
    assert again.headers["Content-Type"].startswith("application/json")
    return first_bytes


async def customer_count(pc: PartnerClient) -> int:
    return int((await pc.ok("GET", "/v1/customers"))["totalCount"])


async def test_a_repeated_customer_post_replays_the_answer_and_creates_one(
    pc: PartnerClient,
) -> None:
    await same_answer_twice(pc, "/v1/customers", customer_body("once.onmicrosoft.com"))
    assert await customer_count(pc) == 1


async def test_a_repeat_replays_even_if_its_body_differs(pc: PartnerClient) -> None:
    first = await post(pc, "/v1/customers", customer_body("first.onmicrosoft.com"))
    again = await post(pc, "/v1/customers", customer_body("second.onmicrosoft.com"))
    assert await again.read() == await first.read()
    assert await customer_count(pc) == 1


async def test_a_repeated_cart_post_creates_one_cart(pc: PartnerClient) -> None:
    customer = await pc.new_customer("cart.onmicrosoft.com")
    body = {"lineItems": [line()], "partnerOnRecordAttestationAccepted": True}
    await same_answer_twice(pc, f"/v1/customers/{customer['id']}/carts", body)
    assert len((await pc.sim("GET", "/state"))["carts"]) == 1


async def test_a_repeated_checkout_places_one_order(pc: PartnerClient) -> None:
    customer = await pc.new_customer("checkout.onmicrosoft.com")
    await pc.accept_mca(customer["id"])
    cart = await pc.ok(
        "POST",
        f"/v1/customers/{customer['id']}/carts",
        {"lineItems": [line()], "partnerOnRecordAttestationAccepted": True},
        status=201,
    )
    await same_answer_twice(pc, f"/v1/customers/{customer['id']}/carts/{cart['id']}/checkout")
    orders = await pc.ok("GET", f"/v1/customers/{customer['id']}/orders")
    assert orders["totalCount"] == 1
    subs = await pc.ok("GET", f"/v1/customers/{customer['id']}/subscriptions")
    assert subs["totalCount"] == 1


async def test_a_checkout_repeated_without_the_id_is_refused_as_already_ordered(
    pc: PartnerClient,
) -> None:
    customer = await pc.new_customer("twice.onmicrosoft.com")
    await pc.accept_mca(customer["id"])
    cart = await pc.ok(
        "POST",
        f"/v1/customers/{customer['id']}/carts",
        {"lineItems": [line()], "partnerOnRecordAttestationAccepted": True},
        status=201,
    )
    path = f"/v1/customers/{customer['id']}/carts/{cart['id']}/checkout"
    await pc.ok("POST", path, status=201)
    await pc.fail("POST", path, None, 400, 800065)


async def test_a_repeated_transfer_post_creates_one_transfer(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer_id, _ = await pc.customer_with_subscription("moving.onmicrosoft.com")
    await pc.sim(
        "POST",
        f"/tenants/{customer_id}/accept-relationship",
        {"partnerTenantId": direct_pc.tenant_id},
    )
    body = {
        "sourcePartnerTenantId": pc.tenant_id,
        "sourcePartnerName": "Contoso Distribution",
        "customerEmailId": "admin@moving.onmicrosoft.com",
    }
    await same_answer_twice(direct_pc, f"/v1/customers/{customer_id}/transfers", body)
    listed = await direct_pc.ok("GET", f"/v1/customers/{customer_id}/transfers")
    assert listed["totalCount"] == 1


async def test_a_failed_answer_is_not_stored(pc: PartnerClient) -> None:
    bad = customer_body("not valid")
    refused = await post(pc, "/v1/customers", bad)
    assert refused.status == 400
    fixed = await post(pc, "/v1/customers", customer_body("fixed.onmicrosoft.com"))
    assert fixed.status == 201
    assert await customer_count(pc) == 1


async def test_another_partners_identical_id_is_unrelated(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    mine = await post(pc, "/v1/customers", customer_body("mine.onmicrosoft.com"))
    theirs = await post(direct_pc, "/v1/customers", customer_body("theirs.onmicrosoft.com"))
    assert (mine.status, theirs.status) == (201, 201)
    assert (await mine.json())["id"] != (await theirs.json())["id"]
    assert await customer_count(direct_pc) == 1


async def test_reset_forgets_stored_answers(pc: PartnerClient) -> None:
    body = customer_body("again.onmicrosoft.com")
    assert (await post(pc, "/v1/customers", body)).status == 201
    await pc.sim("POST", "/reset", status=204)
    assert await customer_count(pc) == 0
    assert (await post(pc, "/v1/customers", body)).status == 201
    assert await customer_count(pc) == 1


async def test_posts_without_an_id_are_not_deduplicated(pc: PartnerClient) -> None:
    await pc.new_customer("one.onmicrosoft.com")
    await pc.new_customer("two.onmicrosoft.com")
    assert await customer_count(pc) == 2


async def test_an_id_reused_on_another_path_is_a_new_call(pc: PartnerClient) -> None:
    created = await post(pc, "/v1/customers", customer_body("reuse.onmicrosoft.com"))
    customer_id = (await created.json())["id"]
    await pc.accept_mca(customer_id)
    cart = await post(
        pc,
        f"/v1/customers/{customer_id}/carts",
        {"lineItems": [line()], "partnerOnRecordAttestationAccepted": True},
    )
    assert cart.status == 201
    assert (await cart.json())["id"] != customer_id
