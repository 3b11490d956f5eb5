"""The gateway takes Partner Center's webhook events at ``POST /v1/partner-center/events``: the
simulator's signed events wake the operations waiting on what they name, long before their poll
(set to an hour here, so only the event can explain a resume); a bad or missing signature is
refused and changes nothing."""

from __future__ import annotations

import base64
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from adapters.storage import SqlJournal
from tests.gateway.conftest import Gateway, MakeGateway
from tests.gateway.test_existing_tenant import accept_relationship, existing_order, existing_tenant
from tests.gateway.test_transfers import new_partner, wait_for_action
from tests.simulator.conftest import PROVIDER, PartnerClient

SECRET = "gateway-and-simulator-share-this"
HOUR = 3600.0
EVENTS = "/v1/partner-center/events"


def events_url(gw: Gateway) -> str:
    return str(gw.http.make_url(EVENTS))


async def register(pc: PartnerClient, gw: Gateway, *events: str) -> None:
    await pc.ok("POST", "/webhooks/v1/registration", {
        "WebhookUrl": events_url(gw), "WebhookEvents": list(events), "SigningSecret": SECRET,
    })  # fmt: skip


def signature(body: bytes, secret: str = SECRET) -> str:
    return "Signature " + base64.b64encode(hmac.digest(secret.encode(), body, "sha256")).decode()


async def post_event(gw: Gateway, body: bytes, **headers: str) -> tuple[int, dict[str, Any]]:
    """As Partner Center posts: its own client, no API key."""
    async with aiohttp.ClientSession() as http:
        sent = {"Content-Type": "application/json", **headers}
        async with http.post(events_url(gw), data=body, headers=sent) as resp:
            return resp.status, dict(await resp.json())


async def waiting_run_after(gw: Gateway, op_id: str) -> datetime:
    assert gw.database_url is not None
    journal = SqlJournal(gw.database_url)
    try:
        op = await journal.get(op_id)
    finally:
        await journal.close()
    assert op is not None
    return op.run_after


async def test_an_existing_tenant_order_resumes_on_the_relationship_event_not_its_poll(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(invitation_poll_seconds=HOUR, pc_webhook_secret=SECRET)
    await register(sim, gw, "reseller-relationship-accepted-by-customer")
    tenant_id = await existing_tenant(sim)
    submitted = await gw.submit("/v1/orders", existing_order())
    paused = await gw.wait(submitted["id"], until=("action_required", "succeeded", "failed"))
    assert paused["action"]["kind"] == "customer_invitation"
    assert await waiting_run_after(gw, submitted["id"]) > datetime.now(UTC) + timedelta(minutes=50)

    await accept_relationship(sim, tenant_id)
    op = await gw.wait(submitted["id"])  # within Gateway.wait's 20 s: the hour's poll never came
    assert op["status"] == "succeeded", op
    assert op["result"]["customerId"] == tenant_id
    [delivery] = (await sim.sim("GET", "/webhooks/deliveries"))["items"]
    assert delivery["eventName"] == "reseller-relationship-accepted-by-customer"
    assert [a["status"] for a in delivery["attempts"]] == [200]


async def test_an_incoming_transfer_resumes_when_the_source_completes_it(
    gw: Gateway, make_gateway: MakeGateway, sim: PartnerClient, tmp_path: Path
) -> None:
    from tests.gateway.conftest import purchase_order

    bought = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    customer_id, [sub_id] = bought["result"]["customerId"], bought["result"]["subscriptionIds"]
    provider = await new_partner(sim, "Adatum Distribution", "indirect_provider")
    b_sim = await sim.as_partner(provider["clientId"], provider["clientSecret"],
                                 provider["tenantId"])  # fmt: skip
    b = await make_gateway(
        pc_tenant_id=provider["tenantId"], pc_client_id=provider["clientId"],
        pc_client_secret=provider["clientSecret"], database_url=f"sqlite:///{tmp_path / 'b.db'}",
        invitation_poll_seconds=HOUR, pc_webhook_secret=SECRET,
    )  # fmt: skip
    await register(b_sim, b, "complete-transfer")
    await sim.sim("POST", f"/tenants/{customer_id}/accept-relationship",
                  {"partnerTenantId": provider["tenantId"]})  # fmt: skip
    incoming = await b.submit("/v1/transfers", {
        "customer": {"domain": "contoso.onmicrosoft.com"}, "customerEmail": "jane@contoso.com",
        "sourcePartnerTenantId": PROVIDER["tenant_id"], "sourcePartnerName": "Contoso Distribution",
    })  # fmt: skip
    waiting = await wait_for_action(b, incoming["id"], "transfer_pending")
    transfer_id = waiting["result"]["transferId"]

    # The source partner accepts in Partner Center (here: straight in the simulator).
    await sim.ok("PATCH", f"/v1/customers/{customer_id}/transfers/{transfer_id}", {
        "status": "Complete", "lineItems": [{"subscriptionId": sub_id, "quantity": 5}],
    })  # fmt: skip
    done = await b.wait(incoming["id"])
    assert done["status"] == "succeeded", done
    [moved] = done["result"]["subscriptionIds"]
    assert moved != sub_id


async def test_a_bad_or_missing_signature_is_refused_and_wakes_nothing(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(invitation_poll_seconds=HOUR, pc_webhook_secret=SECRET)
    tenant_id = await existing_tenant(sim)
    submitted = await gw.submit("/v1/orders", existing_order())
    await gw.wait(submitted["id"], until=("action_required",))
    await accept_relationship(sim, tenant_id)  # accepted, but no event reaches the gateway
    before = await waiting_run_after(gw, submitted["id"])
    body = json.dumps({
        "EventName": "reseller-relationship-accepted-by-customer",
        "ResourceUri": f"https://api.partnercenter.microsoft.com/v1/customers/{tenant_id}",
        "ResourceName": "Customer", "AuditUri": None,
        "ResourceChangeUtcDate": "2026-01-05T09:00:00.0000000+00:00",
    }).encode()  # fmt: skip

    refusals = [
        await post_event(gw, body),
        await post_event(gw, body, Authorization=signature(body, "some-other-secret")),
        await post_event(gw, body, Authorization="Bearer " + signature(body).split()[1]),
        await post_event(gw, body + b" ", Authorization=signature(body)),  # body changed
        await post_event(gw, body, **{"X-MS-Signature": signature(body, "not-it-at-all")}),
    ]
    assert [(status, answer["code"]) for status, answer in refusals] == [(401, "unauthorized")] * 5
    assert [answer["field"] for _, answer in refusals] == ["Authorization", "Authorization",
                                                           "Authorization", "Authorization",
                                                           "X-MS-Signature"]  # fmt: skip
    assert await waiting_run_after(gw, submitted["id"]) == before
    assert (await gw.operation(submitted["id"]))["status"] == "action_required"

    # Signed, but not an event: a 400 naming what is wrong, and still nothing done.
    for bad, field in ((b'{"ResourceName": "Customer"}', "EventName"), (b"[1, 2", "body")):
        status, answer = await post_event(gw, bad, Authorization=signature(bad))
        assert (status, answer["field"]) == (400, field), answer
    assert await waiting_run_after(gw, submitted["id"]) == before

    # Signed and genuine (Microsoft's alternative header): the operation resumes.
    status, answer = await post_event(gw, body, **{"X-MS-Signature": signature(body)})
    assert (status, answer) == (200, {"eventName": "reseller-relationship-accepted-by-customer",
                                      "resumed": 1})  # fmt: skip
    assert (await gw.wait(submitted["id"]))["status"] == "succeeded"


async def test_without_a_secret_the_gateway_takes_no_events(make_gateway: MakeGateway) -> None:
    gw = await make_gateway()
    body = b'{"EventName": "test-created"}'
    status, answer = await post_event(gw, body, Authorization=signature(body))
    assert (status, answer["code"]) == (404, "not_found")
    assert "PCGW_PC_WEBHOOK_SECRET" in answer["message"]


async def test_events_that_wait_on_nothing_are_acknowledged(make_gateway: MakeGateway) -> None:
    gw = await make_gateway(pc_webhook_secret=SECRET)
    for name in ("subscription-updated", "customer-created", "test-created", "invoice-ready"):
        body = json.dumps({"EventName": name, "ResourceUri": None}).encode()
        status, answer = await post_event(gw, body, Authorization=signature(body))
        assert (status, answer) == (200, {"eventName": name, "resumed": 0})
