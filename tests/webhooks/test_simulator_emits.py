"""The simulator's Partner Center webhooks, as a partner meets them: it registers a URL through
Microsoft's registration API, changes the world through the API (or the clock moves), and a real
receiver gets Microsoft's payload, signed, asynchronously and retried; ``GET
/_sim/webhooks/deliveries`` shows what was sent and what the receiver answered."""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
from datetime import date, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from tests.simulator.conftest import RESELLER, PartnerClient
from tests.simulator.test_transfers import scene as transfer_scene
from tests.webhooks.conftest import PATIENCE, Received, Receiver

SECRET = "pcsim-webhook-secret"  # SimulatorSettings' default
KEYS = ["EventName", "ResourceUri", "ResourceName", "AuditUri", "ResourceChangeUtcDate"]
REGISTRATION = "/webhooks/v1/registration"


async def register(pc: PartnerClient, url: str, *events: str, **extra: Any) -> dict[str, Any]:
    body = {"WebhookUrl": url, "WebhookEvents": list(events), **extra}
    return dict(await pc.ok("POST", REGISTRATION, body))


def signed(received: Received, secret: str = SECRET, header: str = "Authorization") -> bool:
    expected = base64.b64encode(hmac.digest(secret.encode(), received.body, "sha256")).decode()
    return received.headers.get(header) == f"Signature {expected}"


async def deliveries(pc: PartnerClient, **query: str) -> list[dict[str, Any]]:
    found = await pc.sim("GET", "/webhooks/deliveries" + ("?" + "&".join(
        f"{k}={v}" for k, v in query.items()) if query else ""))  # fmt: skip
    return list(found["items"])


async def settled(pc: PartnerClient) -> dict[str, Any]:
    """The newest delivery, once it is no longer pending (delivered or given up on)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while True:
        latest = (await deliveries(pc, limit="1"))[0]
        if latest["state"] != "pending":
            return latest
        assert loop.time() < deadline, f"still pending: {latest}"
        await asyncio.sleep(0.05)


async def test_a_seat_change_reaches_the_partners_url_as_microsofts_event_signed(
    sim: PartnerClient, sim_url: str, receiver: Receiver
) -> None:
    await register(sim, receiver.url, "subscription-updated")
    customer_id, sub = await sim.customer_with_subscription()
    path = f"/v1/customers/{customer_id}/subscriptions/{sub['id']}"
    changed = await sim.ok("PATCH", path, {**sub, "quantity": 6})
    assert changed["quantity"] == 6

    [got] = await receiver.wait_for(lambda r: len(r) == 1, "subscription-updated")
    event = got.json()
    assert list(event) == KEYS
    assert event["EventName"] == "subscription-updated"
    assert event["ResourceUri"] == f"{sim_url}/webhooks/v1{path.removeprefix('/v1')}"
    assert (event["ResourceName"], event["AuditUri"]) == ("subscription", None)
    now = (await sim.sim("GET", "/clock"))["now"]  # "2026-01-05T09:00:00Z"
    assert event["ResourceChangeUtcDate"] == now.replace("Z", ".0000000+00:00")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00", event["ResourceChangeUtcDate"]
    )
    assert signed(got)
    assert got.headers["X-MS-Signature-Algorithm"] == "hmac-sha256"
    assert got.headers["Content-Type"] == "application/json"
    assert got.path == "/hooks"
    # The resource the event names is there to read, at the URI it gives.
    named = await sim.ok("GET", event["ResourceUri"].removeprefix(sim_url))
    assert (named["id"], named["quantity"]) == (sub["id"], 6)

    [sent] = await deliveries(sim)
    assert (sent["eventName"], sent["url"], sent["state"]) == (
        "subscription-updated", receiver.url, "delivered",
    )  # fmt: skip
    assert [a["status"] for a in sent["attempts"]] == [200]
    assert sent["body"] == event
    assert sent["partnerTenantId"] == sim.tenant_id


async def test_only_seat_status_and_auto_renew_changes_raise_subscription_updated(
    sim: PartnerClient, receiver: Receiver
) -> None:
    await register(sim, receiver.url, "subscription-updated")
    customer_id, sub = await sim.customer_with_subscription()
    path = f"/v1/customers/{customer_id}/subscriptions/{sub['id']}"
    await sim.ok("PATCH", path, {**sub, "friendlyName": "Renamed"})  # not a commerce change
    await sim.ok("PATCH", path, {**sub, "friendlyName": "Renamed", "autoRenewEnabled": False})
    await sim.ok("PATCH", path, {**sub, "friendlyName": "Renamed", "autoRenewEnabled": False,
                                 "status": "suspended"})  # fmt: skip
    # A partner's events go out in order: had the rename raised one, it would come first.
    got = await receiver.wait_for(lambda r: len(r) == 2, "two events")
    assert [r.json()["EventName"] for r in got] == ["subscription-updated"] * 2
    assert len(await deliveries(sim)) == 2


async def test_the_registration_api_as_microsoft_documents_it(
    sim: PartnerClient, receiver: Receiver
) -> None:
    names = await sim.ok("GET", REGISTRATION + "/events")
    assert {"subscription-updated", "subscription-renewed", "customer-created", "test-created",
            "reseller-relationship-accepted-by-customer", "create-transfer", "update-transfer",
            "complete-transfer"} <= set(names)  # fmt: skip
    await sim.fail("GET", REGISTRATION, None, 404, 800002)

    made = await register(sim, receiver.url, "subscription-updated", "customer-created")
    assert set(made) == {"SubscriberId", "WebhookUrl", "WebhookEvents"}
    assert made["WebhookEvents"] == ["subscription-updated", "customer-created"]
    again = await sim.fail("POST", REGISTRATION,
                           {"WebhookUrl": receiver.url, "WebhookEvents": ["test-created"]}, 409, 800002)  # fmt: skip
    assert "PUT" in again["description"]
    assert await sim.ok("GET", REGISTRATION) == {
        "WebhookUrl": receiver.url, "WebhookEvents": ["subscription-updated", "customer-created"],
    }  # fmt: skip
    # Keys bind case-insensitively, as everywhere in Partner Center.
    changed = await sim.ok("PUT", REGISTRATION,
                           {"webhookurl": receiver.url + "/v2", "webhookevents": ["test-created"]})  # fmt: skip
    assert changed["SubscriberId"] == made["SubscriberId"]
    assert (changed["WebhookUrl"], changed["WebhookEvents"]) == (
        receiver.url + "/v2", ["test-created"],
    )  # fmt: skip

    bad_url = await sim.fail("PUT", REGISTRATION,
                             {"WebhookUrl": "ftp://example.com", "WebhookEvents": ["test-created"]}, 400, 800002)  # fmt: skip
    assert "WebhookUrl" in bad_url["description"]
    unknown = await sim.fail("PUT", REGISTRATION,
                             {"WebhookUrl": receiver.url, "WebhookEvents": ["subscription-eaten"]}, 400, 800002)  # fmt: skip
    assert "'subscription-eaten'" in unknown["description"]
    missing = await sim.fail("PUT", REGISTRATION, {"WebhookUrl": receiver.url}, 400, 800002)
    assert "webhookevents: field required" in missing["description"].lower()
    assert (await sim.ok("GET", REGISTRATION))["WebhookUrl"] == receiver.url + "/v2"  # unchanged

    reseller = await sim.as_partner(RESELLER["client_id"], RESELLER["client_secret"],
                                    RESELLER["tenant_id"])  # fmt: skip
    await reseller.fail("GET", REGISTRATION, None, 404, 800002)  # each partner its own

    await sim.ok("DELETE", REGISTRATION, status=204)
    await sim.fail("GET", REGISTRATION, None, 404, 800002)
    unsigned = await sim.http.get(REGISTRATION)
    assert unsigned.status == 401


async def test_customers_and_relationships_are_told_to_the_partners_they_concern(
    sim: PartnerClient, receiver: Receiver
) -> None:
    events = ("customer-created", "reseller-relationship-accepted-by-customer",
              "indirect-reseller-relationship-accepted-by-customer")  # fmt: skip
    await register(sim, receiver.url + "/provider", *events)
    reseller = await sim.as_partner(RESELLER["client_id"], RESELLER["client_secret"],
                                    RESELLER["tenant_id"])  # fmt: skip
    await register(reseller, receiver.url + "/reseller", *events)

    created = await sim.new_customer("fabrikamnew.onmicrosoft.com")
    direct = await sim.sim("POST", "/tenants", {"domain": "existing1.onmicrosoft.com",
                                                "companyName": "Existing One", "country": "US"}, 201)  # fmt: skip
    await sim.sim("POST", f"/tenants/{direct['tenantId']}/accept-relationship",
                  {"partnerTenantId": sim.tenant_id})  # fmt: skip
    through = await sim.sim("POST", "/tenants", {"domain": "existing2.onmicrosoft.com",
                                                 "companyName": "Existing Two", "country": "US"}, 201)  # fmt: skip
    await sim.sim("POST", f"/tenants/{through['tenantId']}/accept-relationship",
                  {"partnerTenantId": sim.tenant_id,
                   "indirectResellerTenantId": RESELLER["tenant_id"]})  # fmt: skip

    got = await receiver.wait_for(lambda r: len(r) == 4, "four events")
    seen = sorted((r.path, r.json()["EventName"], r.json()["ResourceUri"].rsplit("/", 1)[1],
                   r.json()["ResourceName"]) for r in got)  # fmt: skip
    assert seen == sorted([
        ("/hooks/provider", "customer-created", created["id"], "Customer"),
        ("/hooks/provider", "reseller-relationship-accepted-by-customer", direct["tenantId"],
         "Customer"),
        ("/hooks/provider", "indirect-reseller-relationship-accepted-by-customer",
         through["tenantId"], "Customer"),
        ("/hooks/reseller", "indirect-reseller-relationship-accepted-by-customer",
         through["tenantId"], "Customer"),
    ])  # fmt: skip
    assert all(signed(r) for r in got)


async def test_transfer_events_reach_both_the_source_and_the_target(
    sim: PartnerClient, receiver: Receiver
) -> None:
    s = await transfer_scene(sim)
    events = ("create-transfer", "update-transfer", "complete-transfer")
    await register(sim, receiver.url + "/source", *events)
    await register(s.target, receiver.url + "/target", *events)
    completed = await s.create()
    await sim.ok("PATCH", f"{s.transfers}/{completed['id']}", s.accept(s.sub))
    cancelled = await s.create()
    await s.target.ok("PATCH", f"{s.transfers}/{cancelled['id']}", {"status": "Cancel"})

    got = await receiver.wait_for(lambda r: len(r) == 8, "eight transfer events")
    for side in ("/hooks/source", "/hooks/target"):
        mine = [r.json() for r in got if r.path == side]
        assert [(e["EventName"], e["ResourceUri"].rsplit("/", 1)[1]) for e in mine] == [
            ("create-transfer", completed["id"]), ("complete-transfer", completed["id"]),
            ("create-transfer", cancelled["id"]), ("update-transfer", cancelled["id"]),
        ]  # fmt: skip
        assert {e["ResourceName"] for e in mine} == {"transfer"}
        assert all(f"/v1/customers/{s.customer_id}/transfers/" in e["ResourceUri"] for e in mine)


async def test_the_clock_raises_subscription_renewed_when_a_renewal_completes(
    sim: PartnerClient, receiver: Receiver
) -> None:
    await register(sim, receiver.url, "subscription-renewed", "subscription-updated")
    customer_id, sub = await sim.customer_with_subscription()
    end = date.fromisoformat(sub["commitmentEndDate"][:10])
    after = f"{end + timedelta(days=2)}T00:00:00Z"
    moved = await sim.sim("POST", "/clock/advance", {"to": after})
    assert "renewalCompleted" in [e["type"] for e in moved["events"]]

    [got] = await receiver.wait_for(lambda r: len(r) == 1, "subscription-renewed")
    event = got.json()
    assert event["EventName"] == "subscription-renewed"
    assert event["ResourceUri"].endswith(
        f"/webhooks/v1/customers/{customer_id}/subscriptions/{sub['id']}"
    )
    assert event["ResourceChangeUtcDate"].startswith(f"{end + timedelta(days=1)}T06:00:00")
    assert signed(got)


async def test_a_failing_receiver_is_retried_and_a_dead_one_never_fails_the_call(
    sim: PartnerClient, receiver: Receiver
) -> None:
    await register(sim, receiver.url, "customer-created")
    receiver.failures = 1
    await sim.new_customer("retried.onmicrosoft.com")
    got = await receiver.wait_for(lambda r: len(r) == 2, "the retry")
    assert [r.status for r in got] == [500, 200]
    assert got[0].body == got[1].body
    assert signed(got[1])
    [sent] = await deliveries(sim)
    assert sent["state"] == "delivered"
    assert [a["status"] for a in sent["attempts"]] == [500, 200]

    # Nothing listens there: the customer is created all the same, the event is tried three
    # times and then given up on, and the deliveries view says why.
    await sim.ok("PUT", REGISTRATION,
                 {"WebhookUrl": "http://127.0.0.1:9/nowhere", "WebhookEvents": ["customer-created"]})  # fmt: skip
    created = await sim.new_customer("unheard.onmicrosoft.com")
    assert created["companyProfile"]["domain"] == "unheard.onmicrosoft.com"
    latest = await settled(sim)
    assert latest["state"] == "failed", latest
    assert len(latest["attempts"]) == 3
    assert all(a["status"] is None and a["error"] for a in latest["attempts"])


async def test_a_validation_event_with_the_ms_signature_header_and_its_own_secret(
    sim: PartnerClient, receiver: Receiver
) -> None:
    secret = "a-secret-of-this-registration"
    await register(sim, receiver.url, "test-created",
                   SignatureTokenToMsSignatureHeader=True, SigningSecret=secret)  # fmt: skip
    sent = await sim.ok("POST", REGISTRATION + "/validationEvents",
                        headers={"MS-CorrelationId": "04af2aea-d413-42db-824e-f328001484d1"})  # fmt: skip
    assert sent == {"correlationId": "04af2aea-d413-42db-824e-f328001484d1"}
    [got] = await receiver.wait_for(lambda r: len(r) == 1, "test-created")
    assert got.json()["EventName"] == "test-created"
    assert got.json()["ResourceName"] == "test"
    assert "Authorization" not in got.headers
    assert signed(got, secret, header="X-MS-Signature")
    assert not signed(got, SECRET, header="X-MS-Signature")

    await settled(sim)  # the attempt is recorded just after the receiver answers
    status = await sim.ok("GET", REGISTRATION + "/validationEvents/" + sent["correlationId"])
    assert status["status"] == "completed"
    assert (status["callbackUrl"], status["partnerId"]) == (receiver.url, sim.tenant_id)
    assert [(r["responseCode"], r["systemError"]) for r in status["results"]] == [("200", False)]


async def test_registering_needs_the_partners_token(sim_http: TestClient[Any, Any]) -> None:
    resp = await sim_http.post(REGISTRATION, json={"WebhookUrl": "http://127.0.0.1:9/x",
                                                   "WebhookEvents": ["test-created"]})  # fmt: skip
    assert resp.status == 401
    assert (await resp.json())["code"] == 400  # Partner Center's "Access denied" body
