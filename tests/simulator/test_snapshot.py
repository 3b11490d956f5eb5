"""Snapshots of the simulator's world (``GET``/``POST /_sim/snapshot``): a world saved and
restored is the same world — the same document when saved again, the same ids for what is made
next, the same renewals and expiries when the clock moves on — and a snapshot that cannot be
read back whole is refused with the problem named and the running world left as it was."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from simulator import SimulatorSettings, create_app
from simulator.clock import KINDS
from simulator.snapshot import DERIVED, RUNTIME_ONLY, VERSION, WORLD_KEYS
from simulator.world import World
from tests.simulator.conftest import PROVIDER, PartnerClient, line, sign_in
from tests.simulator.test_migrations import legacy_customer
from tests.simulator.test_scheduled_changes import instructions, schedule
from tests.simulator.test_transfers import scene

STANDARD = "CFQ7TTC0LDPB:0001:CFQ7TTC0K5DJ"


def sub_path(customer_id: str, sub_id: str, tail: str = "") -> str:
    return f"/v1/customers/{customer_id}/subscriptions/{sub_id}{tail}"


async def populate(pc: PartnerClient) -> dict[str, Any]:
    """A world with something of everything a snapshot keeps, and events of most kinds due."""
    made: dict[str, Any] = {}
    # a billing-cycle change waiting for the next charge; scheduled next-term instructions
    c1, s1 = await pc.customer_with_subscription("alpha.onmicrosoft.com")
    await pc.ok("PATCH", sub_path(c1, s1["id"]), {**s1, "billingCycle": "annual"})
    c2, s2 = await pc.customer_with_subscription("beta.onmicrosoft.com")
    await schedule(pc, c2, s2, await instructions(pc))
    # a full upgrade (a transition record); auto-renew off on another, to expire at term end
    c3, s3 = await pc.customer_with_subscription("gamma.onmicrosoft.com")
    await pc.ok("POST", sub_path(c3, s3["id"], "/transitions"),
                {"toCatalogItemId": STANDARD, "quantity": 5, "transitionType": "transition_only"})  # fmt: skip
    bought = await pc.buy(c3, [line(quantity=2)])
    s4 = await pc.ok("GET", sub_path(c3, bought["orders"][0]["lineItems"][0]["subscriptionId"]))
    await pc.ok("PATCH", sub_path(c3, s4["id"]), {**s4, "autoRenewEnabled": False})
    # a legacy subscription migrated (the legacy one suspended, its deletion due in 90 days)
    legacy_id, legacy = await legacy_customer(pc)
    await pc.ok("POST", f"/v1/customers/{legacy_id}/migrations/newcommerce",
                {"currentSubscriptionId": legacy["id"]}, status=201)  # fmt: skip
    # a pending transfer to another provider (expires in 30 days)
    transfer = await scene(pc)
    await transfer.create()
    # a cart never checked out, and a POST answer kept for its MS-RequestId
    await pc.ok("POST", f"/v1/customers/{c1}/carts",
                {"lineItems": [line()], "partnerOnRecordAttestationAccepted": True},
                status=201, headers={"MS-RequestId": "11111111-2222-4333-8444-555555555555"})  # fmt: skip
    # a webhook registration (for the test event only: nothing is sent while this test runs)
    await pc.ok("POST", "/webhooks/v1/registration",
                {"WebhookUrl": "http://127.0.0.1:9/hook", "WebhookEvents": ["test-created"]})  # fmt: skip
    # an order still provisioning, and a config that differs from the defaults
    await pc.sim("PUT", "/config", {"orderProvisioning": "PT2H", "renewalProcessing": "PT3H"})
    await pc.buy(c2, [line(quantity=3)])
    await pc.advance("PT30M")
    made["customers"] = [c1, c2, c3, legacy_id, transfer.customer_id]
    return made


@pytest.fixture
async def second() -> AsyncIterator[PartnerClient]:
    """Another simulator, signed in as the provider (a process that starts from a snapshot)."""
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(SimulatorSettings())))
    await client.start_server()
    try:
        yield await sign_in(
            client, PROVIDER["client_id"], PROVIDER["client_secret"], PROVIDER["tenant_id"]
        )
    finally:
        await client.close()


async def snapshot(pc: PartnerClient) -> dict[str, Any]:
    return dict(await pc.sim("GET", "/snapshot"))


async def restore(pc: PartnerClient, document: Any, status: int = 204) -> Any:
    body = io.BytesIO(json.dumps(document).encode())  # aiohttp streams a file-like body
    resp = await pc.http.post(
        "/_sim/snapshot", data=body, headers={"Content-Type": "application/json"}
    )
    text = await resp.text()
    assert resp.status == status, text
    return await resp.json() if text else None


async def test_a_restored_world_saves_to_the_same_document(pc: PartnerClient) -> None:
    await populate(pc)
    first = await snapshot(pc)
    assert (first["format"], first["version"]) == ("pcgw-simulator-snapshot", VERSION)
    world = first["world"]
    assert {e["kind"] for e in world["events"]} == set(KINDS) - {
        "lifecycle.renewal_done",  # due only while a renewal is in progress
        "lifecycle.expiry_step",  # due only once a subscription has expired
        "migrations.completion",  # due only while a migration's order provisions
        "legacy.deletion",  # due only for a legacy subscription the partner suspended
    }
    kept = ("transitions", "migrations", "transfers", "storedAnswers", "webhookRegistrations")
    assert [len(world[k]) for k in kept] == [1, 1, 1, 1, 1]
    assert [o["completed"] for o in world["orders"]].count(False) == 1

    await pc.sim("POST", "/reset", status=204)
    assert (await pc.sim("GET", "/state"))["subscriptions"] == []
    await restore(pc, first)
    again = await snapshot(pc)
    assert again["world"] == first["world"]
    assert again["savedAt"] >= first["savedAt"]


async def carry_on(client: PartnerClient, customers: list[str]) -> dict[str, Any]:
    """A new customer and purchase, then a year and a half of clock: what a user sees."""
    customer = await client.new_customer("delta.onmicrosoft.com")
    await client.accept_mca(customer["id"])
    bought = await client.buy(customer["id"])
    events = [await client.advance(by) for by in ("P1D", "P400D", "P120D")]
    held = [await client.ok("GET", f"/v1/customers/{c}/subscriptions") for c in customers]
    return {"ids": [customer["id"], bought["orders"][0]["id"]], "events": events, "held": held}


async def test_after_a_restore_ids_and_the_clock_carry_on_as_if_never_saved(
    pc: PartnerClient, second: PartnerClient
) -> None:
    """The same steps on the saved simulator and on another restored from its snapshot give
    the same ids, the same events and the same world."""
    made = await populate(pc)
    await restore(second, await snapshot(pc))
    mine = await carry_on(pc, made["customers"])
    assert await carry_on(second, made["customers"]) == mine
    happened = {e["type"] for batch in mine["events"] for e in batch}
    assert {"orderCompleted", "renewalCompleted", "billingCycleChanged", "subscriptionExpired",
            "subscriptionDisabled", "subscriptionDeleted", "transferExpired",
            "cartExpired"} <= happened  # fmt: skip
    assert (await snapshot(pc))["world"] == (await snapshot(second))["world"]


async def test_a_repeated_request_id_replays_its_answer_after_a_restore(
    pc: PartnerClient, second: PartnerClient
) -> None:
    customer_id, _ = await pc.customer_with_subscription("alpha.onmicrosoft.com")
    rid = {"MS-RequestId": "0f0e0d0c-0b0a-4908-8706-050403020100"}
    body = {"lineItems": [line()], "partnerOnRecordAttestationAccepted": True}
    cart = await pc.ok("POST", f"/v1/customers/{customer_id}/carts", body, 201, headers=rid)
    await restore(second, await snapshot(pc))
    again = await second.ok("POST", f"/v1/customers/{customer_id}/carts", body, 201, headers=rid)
    assert again == cart  # replayed: no second cart
    carts = (await second.sim("GET", "/state"))["carts"]
    assert carts == (await pc.sim("GET", "/state"))["carts"]
    assert [c["id"] for c in carts].count(cart["id"]) == 1


async def test_a_restore_keeps_the_running_simulators_faults_and_request_journal(
    pc: PartnerClient,
) -> None:
    saved = await snapshot(pc)
    await pc.customer_with_subscription("alpha.onmicrosoft.com")
    fault = await pc.sim("POST", "/faults", {"path": "/carts$", "status": 503}, status=201)
    journal = (await pc.sim("GET", "/requests"))["items"]
    await restore(pc, saved)
    assert (await pc.sim("GET", "/state"))["customers"] == []
    assert [f["id"] for f in (await pc.sim("GET", "/faults"))["items"]] == [fault["id"]]
    assert (await pc.sim("GET", "/requests"))["items"] == journal


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=0), "snapshot version 0 is refused: this simulator reads "
         "version 1 only (the file was saved by an older simulator)"),
        (lambda d: d.update(version=2), "snapshot version 2 is refused: this simulator reads "
         "version 1 only (the file was saved by a newer simulator)"),
        (lambda d: d.update(format="moto-state"), "not a simulator snapshot: format is "
         "'moto-state', expected 'pcgw-simulator-snapshot'"),
        (lambda d: d["world"]["subscriptions"][0].update(quantity="five"),
         "world.subscriptions[0].quantity must be a number, not a string"),
        (lambda d: d["world"]["customers"][0]["partners"].update(x={"since": "yesterday"}),
         "world.customers[0].partners.x.since must be an ISO-8601 instant, not 'yesterday'"),
        (lambda d: d["world"]["subscriptions"][0].update(colour="blue"),
         "world.subscriptions[0] has unknown field(s): colour"),
        (lambda d: d["world"]["events"][0].update(kind="lifecycle.explode"),
         "world.events[0].kind 'lifecycle.explode' is not an event kind this simulator knows"),
        (lambda d: d["world"].pop("ids"), "world.ids is missing"),
    ],
)  # fmt: skip
async def test_a_snapshot_that_does_not_read_back_is_refused_and_changes_nothing(
    pc: PartnerClient, change: Any, message: str
) -> None:
    await pc.customer_with_subscription("alpha.onmicrosoft.com")
    document = await snapshot(pc)
    await pc.sim("POST", "/reset", status=204)
    await pc.customer_with_subscription("other.onmicrosoft.com")
    before = await pc.sim("GET", "/state")
    broken = copy.deepcopy(document)
    change(broken)
    error = await restore(pc, broken, status=400)
    assert message in error["description"], error
    assert error["source"] == "Simulator"
    assert await pc.sim("GET", "/state") == before


async def test_a_snapshot_bigger_than_the_apis_body_limit_is_restored(pc: PartnerClient) -> None:
    """The API's requests stop at 4 MiB; a big world's snapshot does not."""
    document = await snapshot(pc)
    big = "x" * (5 * 1024 * 1024)
    document["world"]["storedAnswers"].append({
        "partnerTenantId": PROVIDER["tenant_id"], "msRequestId": "r-1", "path": "/v1/customers",
        "status": 201, "headers": {}, "body": big,
    })  # fmt: skip
    await restore(pc, document)
    assert (await snapshot(pc))["world"]["storedAnswers"][0]["body"] == big


async def test_a_body_that_is_not_json_is_400(pc: PartnerClient) -> None:
    resp = await pc.http.post("/_sim/snapshot", data=b"{not json")
    assert resp.status == 400
    assert "not JSON" in (await resp.json())["description"]


def test_every_field_of_the_world_is_saved_rebuilt_or_named_runtime_only() -> None:
    """A field added to ``World`` must be decided on: saved (a key of the document), derived
    from the records, or left to the running process."""
    saved = {
        "config", "clock", "rng", "partners", "customers", "carts", "orders", "subscriptions",
        "transfers", "transitions", "migrations", "stored_answers", "webhook_registrations",
    }  # fmt: skip
    fields = {f.name for f in dataclasses.fields(World)}
    assert fields == saved | set(DERIVED) | set(RUNTIME_ONLY)
    assert len(WORLD_KEYS) == len(saved) + 1  # the clock is two keys: now and events
