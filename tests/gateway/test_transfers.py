"""Partner-to-partner transfers through two gateways on one simulator: gateway A (the default
provider) gives a customer away, gateway B (a second indirect provider) receives it. Each side's
step is an operation: B's ``transfer_in`` waits for the customer's relationship and then for A,
A's ``transfer_accept`` moves the subscriptions, B's ``transfer_cancel`` withdraws a request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.simulator.conftest import PROVIDER, PartnerClient

DOMAIN = "contoso.onmicrosoft.com"


@dataclass
class Scene:
    a: Gateway
    b: Gateway
    sim: PartnerClient
    b_tenant: str
    reseller_mpn: str
    customer_id: str
    sub_id: str

    @property
    def transfers(self) -> str:
        return f"/v1/customers/{self.customer_id}/transfers"

    def request(self, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "customer": {"domain": DOMAIN},
            "customerEmail": "jane@contoso.com",
            "sourcePartnerTenantId": PROVIDER["tenant_id"],
            "sourcePartnerName": "Contoso Distribution",
            "resellerMpnId": self.reseller_mpn,
        }
        body.update(changes)
        return body

    async def relate_b(self) -> None:
        await self.sim.sim("POST", f"/tenants/{self.customer_id}/accept-relationship",
                           {"partnerTenantId": self.b_tenant})  # fmt: skip

    async def pending(self) -> tuple[dict[str, Any], str]:
        """B's transfer_in waiting on A, and the transfer's id."""
        await self.relate_b()
        op = await self.b.submit("/v1/transfers", self.request())
        waiting = await wait_for_action(self.b, op["id"], "transfer_pending")
        return waiting, str(waiting["result"]["transferId"])


async def wait_for_action(gw: Gateway, op_id: str, kind: str) -> dict[str, Any]:
    """Poll until the operation asks for ``kind`` (or finishes, which fails the test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while True:
        op = await gw.operation(op_id)
        if op["status"] == "action_required" and op["action"]["kind"] == kind:
            return op
        assert op["status"] not in ("succeeded", "failed"), op
        assert loop.time() < deadline, f"never asked for {kind}: {op}"
        await asyncio.sleep(0.02)


async def new_partner(sim: PartnerClient, name: str, kind: str) -> dict[str, Any]:
    body = {"name": name, "kind": kind, "country": "US"}
    return dict(await sim.sim("POST", "/partners", body, status=201))


@pytest.fixture
async def scene(
    gw: Gateway, sim: PartnerClient, make_gateway: MakeGateway, tmp_path: Path
) -> Scene:
    bought = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert bought["status"] == "succeeded", bought
    provider = await new_partner(sim, "Adatum Distribution", "indirect_provider")
    reseller = await new_partner(sim, "Litware Resellers", "indirect_reseller")
    await sim.sim("POST", f"/partners/{reseller['tenantId']}/accept-provider-invitation",
                  {"providerTenantId": provider["tenantId"]})  # fmt: skip
    b = await make_gateway(
        pc_tenant_id=provider["tenantId"],
        pc_client_id=provider["clientId"],
        pc_client_secret=provider["clientSecret"],
        database_url=f"sqlite:///{tmp_path / 'b.db'}",
        invitation_poll_seconds=0.05,
    )
    [sub_id] = bought["result"]["subscriptionIds"]
    return Scene(gw, b, sim, provider["tenantId"], reseller["mpnId"],
                 bought["result"]["customerId"], sub_id)  # fmt: skip


async def get_json(gw: Gateway, path: str) -> dict[str, Any]:
    resp = await gw.http.get(path)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def no_transfer_operations(gw: Gateway) -> None:
    kinds = [op["kind"] for op in (await get_json(gw, "/v1/operations"))["items"]]
    assert [k for k in kinds if k.startswith("transfer")] == [], kinds


# -- A to B, end to end ------------------------------------------------------------------------


async def test_a_customer_moves_from_a_to_b_and_bs_gateway_shows_the_new_subscription(
    scene: Scene,
) -> None:
    s = scene
    op = await s.b.submit("/v1/transfers", s.request())
    invited = await wait_for_action(s.b, op["id"], "transfer_invitation")
    assert f"partnerId={s.b_tenant}" in invited["action"]["url"]
    assert "global admin must accept" in invited["action"]["message"]
    assert "transferId" not in invited["result"]

    await s.relate_b()
    waiting = await wait_for_action(s.b, op["id"], "transfer_pending")
    assert "Contoso Distribution" in waiting["action"]["message"]
    assert "must accept the transfer request" in waiting["action"]["message"]
    assert waiting["action"]["expiresAt"].startswith("2026-02-04T09:00")
    transfer_id = waiting["result"]["transferId"]

    [outgoing] = (await get_json(s.a, s.transfers))["items"]
    assert (outgoing["id"], outgoing["direction"], outgoing["status"]) == (
        transfer_id, "outgoing", "Pending",
    )  # fmt: skip
    assert outgoing["source"]["tenantId"] == PROVIDER["tenant_id"]
    assert outgoing["target"]["tenantId"] == s.b_tenant
    assert outgoing["resellerMpnId"] == s.reseller_mpn
    assert outgoing["lines"] == []
    [incoming] = (await get_json(s.b, s.transfers))["items"]
    assert (incoming["id"], incoming["direction"]) == (transfer_id, "incoming")

    body = {"lines": [{"subscriptionId": s.sub_id}]}
    accepted = await s.a.wait((await s.a.submit(f"{s.transfers}/{transfer_id}/accept", body))["id"])
    assert accepted["status"] == "succeeded", accepted
    assert accepted["result"]["subscriptionIds"] == [s.sub_id]
    [new_id] = accepted["result"]["transferredSubscriptionIds"]

    done = await s.b.wait(op["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["subscriptionIds"] == [new_id]
    assert (done["result"]["customerId"], done["result"]["transferId"]) == (
        s.customer_id, transfer_id,
    )  # fmt: skip
    assert [st["name"] for st in done["steps"]] == [
        "check_reseller", "find_customer", "create_transfer", "await_source",
    ]  # fmt: skip
    assert "action" not in done

    moved = await get_json(s.b, f"/v1/customers/{s.customer_id}/subscriptions/{new_id}")
    assert (moved["status"], moved["quantity"], moved["resellerMpnId"]) == (
        "active", 5, s.reseller_mpn,
    )  # fmt: skip
    old = await s.sim.ok("GET", f"/v1/customers/{s.customer_id}/subscriptions/{s.sub_id}")
    assert old["status"] == "deleted"
    one = await get_json(s.a, f"{s.transfers}/{transfer_id}")
    assert one["status"] == "Complete"
    assert [(x["subscriptionId"], x["transferredSubscriptionId"]) for x in one["lines"]] == [
        (s.sub_id, new_id)
    ]


async def test_accepting_some_seats_moves_only_those_and_the_rest_stay_with_a(
    scene: Scene,
) -> None:
    s = scene
    waiting, transfer_id = await s.pending()
    body = {"lines": [{"subscriptionId": s.sub_id, "quantity": 2}]}
    accepted = await s.a.wait((await s.a.submit(f"{s.transfers}/{transfer_id}/accept", body))["id"])
    assert accepted["status"] == "succeeded", accepted
    [new_id] = (await s.b.wait(waiting["id"]))["result"]["subscriptionIds"]
    moved = await get_json(s.b, f"/v1/customers/{s.customer_id}/subscriptions/{new_id}")
    assert moved["quantity"] == 2
    kept = await get_json(s.a, f"/v1/customers/{s.customer_id}/subscriptions/{s.sub_id}")
    assert (kept["status"], kept["quantity"]) == ("active", 3)


# -- cancelled, expired --------------------------------------------------------------------------


async def test_a_pending_transfer_cancelled_by_b_fails_both_sides_operations(
    scene: Scene,
) -> None:
    s = scene
    waiting, transfer_id = await s.pending()
    canceled = await s.b.wait((await s.b.submit(f"{s.transfers}/{transfer_id}/cancel", {}))["id"])
    assert canceled["status"] == "succeeded", canceled
    assert canceled["result"]["status"] == "Canceled"

    gone = await s.b.wait(waiting["id"])
    assert gone["status"] == "failed", gone
    assert gone["error"]["reason"] == "transfer_canceled"
    assert "cancelled before the source partner accepted" in gone["error"]["message"]

    body = {"lines": [{"subscriptionId": s.sub_id, "quantity": 5}]}
    refused = await s.a.wait((await s.a.submit(f"{s.transfers}/{transfer_id}/accept", body))["id"])
    assert refused["status"] == "failed", refused
    error = refused["error"]
    assert (error["partnerCenterStatus"], error["partnerCenterCode"]) == (409, 900104)
    assert error["message"] == (
        "The transfer request is Canceled, no longer pending, so it can't be accepted; "
        "the target partner must send a new request."
    )
    sub = await s.sim.ok("GET", f"/v1/customers/{s.customer_id}/subscriptions/{s.sub_id}")
    assert (sub["status"], sub["quantity"]) == ("active", 5)

    again = await s.b.wait((await s.b.submit(f"{s.transfers}/{transfer_id}/cancel", {}))["id"])
    assert again["status"] == "failed", again
    assert again["error"]["partnerCenterCode"] == 900104
    assert "nothing to cancel" in again["error"]["message"]


async def test_a_transfer_nobody_accepts_for_30_days_fails_as_expired(scene: Scene) -> None:
    s = scene
    waiting, transfer_id = await s.pending()
    await s.sim.advance("P31D")
    op = await s.b.wait(waiting["id"])
    assert op["status"] == "failed", op
    assert op["error"]["reason"] == "transfer_expired"
    assert op["error"]["step"] == "await_source"
    assert "expired on 2026-02-04T09:00Z" in op["error"]["message"]
    assert (await get_json(s.a, f"{s.transfers}/{transfer_id}"))["status"] == "Expired"
    sub = await s.sim.ok("GET", f"/v1/customers/{s.customer_id}/subscriptions/{s.sub_id}")
    assert sub["status"] == "active"


# -- refused by Partner Center ---------------------------------------------------------------------


async def test_an_unknown_partner_of_record_fails_before_any_transfer_is_requested(
    scene: Scene,
) -> None:
    s = scene
    await s.relate_b()
    op = await s.b.wait(
        (await s.b.submit("/v1/transfers", s.request(resellerMpnId="9999999")))["id"]
    )
    assert op["status"] == "failed", op
    assert op["error"]["step"] == "check_reseller"
    assert op["error"]["partnerCenterCode"] in (3000, 800015)
    assert "does not know MPN ID 9999999" in op["error"]["message"]
    assert (await s.sim.ok("GET", s.transfers))["items"] == []


async def test_a_source_partner_without_the_customer_fails_with_microsofts_code(
    scene: Scene,
) -> None:
    s = scene
    await s.relate_b()
    stranger = await new_partner(s.sim, "Wingtip Distribution", "indirect_provider")
    request = s.request(sourcePartnerTenantId=stranger["tenantId"])
    op = await s.b.wait((await s.b.submit("/v1/transfers", request))["id"])
    assert op["status"] == "failed", op
    assert op["error"]["step"] == "create_transfer"
    assert (op["error"]["partnerCenterStatus"], op["error"]["partnerCenterCode"]) == (400, 800002)
    assert "sourcePartnerTenantId" in op["error"]["message"]
    assert (await get_json(s.b, s.transfers))["items"] == []


# -- refusals before any operation ----------------------------------------------------------------


async def test_bad_transfer_requests_are_400_naming_the_field_and_leave_no_operation(
    scene: Scene,
) -> None:
    s = scene
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"customerEmail": None}, "customerEmail", "is required"),
        ({"customerEmail": "jane"}, "customerEmail", "an email address"),
        ({"customer": {"domain": "contoso.com"}}, "customer.domain", "onmicrosoft.com"),
        ({"sourcePartnerTenantId": "adatum"}, "sourcePartnerTenantId", "a GUID"),
        ({"sourcePartnerName": ""}, "sourcePartnerName", ""),
        ({"resellerMpnId": "MPN-1"}, "resellerMpnId", "digits only"),
        ({"targetProductTypes": ["Office"]}, "targetProductTypes[0]", ""),
        ({"targetProductTypes": []}, "targetProductTypes", ""),
        ({"lines": []}, "lines", "not a field"),
    ]
    for change, field, words in cases:
        body = {k: v for k, v in s.request(**change).items() if v is not None}
        resp = await s.b.post("/v1/transfers", body)
        problem = await resp.json()
        assert (resp.status, problem["field"]) == (400, field), (change, problem)
        assert words in problem["message"], problem
    own = await s.a.post(
        "/v1/transfers", s.request(sourcePartnerTenantId=PROVIDER["tenant_id"].upper())
    )
    problem = await own.json()
    assert (own.status, problem["field"]) == (400, "sourcePartnerTenantId")
    assert problem["message"].startswith("sourcePartnerTenantId is this distributor's own tenant")
    unkeyed = await s.b.http.post("/v1/transfers", json=s.request())
    assert (unkeyed.status, (await unkeyed.json())["field"]) == (400, "Idempotency-Key")
    await no_transfer_operations(s.a)
    await no_transfer_operations(s.b)


async def test_bad_accepts_and_cancels_are_400_naming_the_field_and_leave_no_operation(
    scene: Scene,
) -> None:
    s = scene
    url = f"{s.transfers}/6a1e4f8c-93b1-4d7e-8a43-2b1f0e5c7d90"
    line = {"subscriptionId": s.sub_id}
    cases: list[tuple[str, Any, str]] = [
        (url + "/accept", {}, "lines"),
        (url + "/accept", {"lines": []}, "lines"),
        (url + "/accept", {"lines": [{"quantity": 2}]}, "lines[0].subscriptionId"),
        (url + "/accept", {"lines": [{**line, "quantity": 0}]}, "lines[0].quantity"),
        (url + "/accept", {"lines": [{**line, "quantity": "2"}]}, "lines[0].quantity"),
        (url + "/accept", {"lines": [line, line]}, "lines"),
        (url + "/accept", {"lines": [{"subscriptionId": "a/b"}]}, "lines[0].subscriptionId"),
        (url + "/cancel", {"reason": "x"}, "reason"),
        ("/v1/customers/bad%20id/transfers/x/cancel", {}, "customer"),
    ]
    for path, body, field in cases:
        resp = await s.a.post(path, body)
        problem = await resp.json()
        assert (resp.status, problem["field"]) == (400, field), (path, body, problem)
    await no_transfer_operations(s.a)


async def test_an_unknown_transfer_accepted_fails_with_microsofts_not_found(scene: Scene) -> None:
    s = scene
    url = f"{s.transfers}/6a1e4f8c-93b1-4d7e-8a43-2b1f0e5c7d90"
    body = {"lines": [{"subscriptionId": s.sub_id, "quantity": 1}]}
    op = await s.a.wait((await s.a.submit(url + "/accept", body))["id"])
    assert op["status"] == "failed", op
    assert (op["error"]["partnerCenterStatus"], op["error"]["partnerCenterCode"]) == (404, 900100)
    resp = await s.a.http.get(url)
    assert resp.status == 404


# -- a PATCH that lands after the gateway gave up ------------------------------------------------


async def test_an_accept_applied_after_the_gateway_timed_out_succeeds_on_the_retrys_409(
    scene: Scene, make_gateway: MakeGateway, tmp_path: Path
) -> None:
    """The accept lands while the gateway no longer waits; the retry (same ``MS-RequestId``) is
    told 409 / 900104 because the transfer is already complete — by that very accept."""
    s = scene
    waiting, transfer_id = await s.pending()
    slow_a = await make_gateway(
        database_url=f"sqlite:///{tmp_path / 'a2.db'}",
        pc_timeout=0.3,
        pc_retry_backoff_seconds=0.5,
        pc_retry_jitter_seconds=0.0,
    )
    await slow_a.assign(s.customer_id)  # its own database: A's customer, as an operator says
    fault = {"method": "PATCH", "path": "/transfers/", "latencyMs": 500, "times": 1}
    await s.sim.sim("POST", "/faults", fault, status=201)
    body = {"lines": [{"subscriptionId": s.sub_id, "quantity": 5}]}
    op = await slow_a.wait((await slow_a.submit(f"{s.transfers}/{transfer_id}/accept", body))["id"])
    assert op["status"] == "succeeded", op
    [accept] = op["steps"]
    assert accept["attempts"] == 1
    log = (await s.sim.sim("GET", "/requests?limit=1000"))["items"]
    patches = [r for r in log if r["method"] == "PATCH" and r["path"].endswith(transfer_id)]
    assert sorted(r["status"] for r in patches) == [200, 409]
    assert {r["msRequestId"] for r in patches} == {accept["msRequestId"]}
    [new_id] = op["result"]["transferredSubscriptionIds"]
    assert (await s.b.wait(waiting["id"]))["result"]["subscriptionIds"] == [new_id]
