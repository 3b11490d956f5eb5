"""New-commerce transfers between two indirect providers: the target creates the request, the
source accepts it with line items, the target may cancel, and an unanswered request expires."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.simulator.conftest import BASIC, PROVIDER, PartnerClient, line

EMAIL = "admin@contoso.com"


@dataclass
class Scene:
    source: PartnerClient
    target: PartnerClient
    customer_id: str
    sub: dict[str, Any]
    reseller_mpn: str

    @property
    def transfers(self) -> str:
        return f"/v1/customers/{self.customer_id}/transfers"

    def subscription(self, sub_id: str) -> str:
        return f"/v1/customers/{self.customer_id}/subscriptions/{sub_id}"

    def body(self, **extra: Any) -> dict[str, Any]:
        return {
            "sourcePartnerTenantId": PROVIDER["tenant_id"],
            "sourcePartnerName": "Contoso Distribution",
            "customerEmailId": EMAIL,
            "partnerOnRecord": self.reseller_mpn,
            **extra,
        }

    async def create(self, **extra: Any) -> dict[str, Any]:
        return dict(await self.target.ok("POST", self.transfers, self.body(**extra), status=201))

    def accept(self, *subs: dict[str, Any]) -> dict[str, Any]:
        return {
            "status": "Complete",
            "lineItems": [{"subscriptionId": s["id"], "quantity": s["quantity"]} for s in subs],
        }


async def new_provider(pc: PartnerClient, name: str) -> tuple[PartnerClient, dict[str, Any]]:
    made = await pc.sim(
        "POST", "/partners", {"name": name, "kind": "indirect_provider", "country": "IT"}, 201
    )
    client = await pc.as_partner(made["clientId"], made["clientSecret"], made["tenantId"])
    return client, dict(made)


async def new_reseller_of(pc: PartnerClient, provider_tenant_id: str) -> dict[str, Any]:
    made = await pc.sim(
        "POST",
        "/partners",
        {"name": "Litware Resellers", "kind": "indirect_reseller", "country": "IT"},
        201,
    )
    await pc.sim(
        "POST",
        f"/partners/{made['tenantId']}/accept-provider-invitation",
        {"providerTenantId": provider_tenant_id},
    )
    return dict(made)


async def relate(pc: PartnerClient, customer_id: str, partner_tenant_id: str) -> None:
    await pc.sim(
        "POST",
        f"/tenants/{customer_id}/accept-relationship",
        {"partnerTenantId": partner_tenant_id},
    )


async def scene(pc: PartnerClient, *, related: bool = True) -> Scene:
    customer_id, sub = await pc.customer_with_subscription()
    target, made = await new_provider(pc, "Adatum Distribution")
    reseller = await new_reseller_of(pc, made["tenantId"])
    if related:
        await relate(pc, customer_id, made["tenantId"])
    return Scene(pc, target, customer_id, sub, reseller["mpnId"])


async def subscriptions_of(client: PartnerClient, customer_id: str) -> list[dict[str, Any]]:
    listed = await client.ok("GET", f"/v1/customers/{customer_id}/subscriptions")
    return list(listed["items"])


# -- create ------------------------------------------------------------------------------------------


async def test_target_creates_a_pending_transfer_that_expires_in_30_days(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    assert transfer["status"] == "Pending"
    assert transfer["createdTime"] == "2026-01-05T09:00:00Z"
    assert transfer["expirationTime"] == "2026-02-04T09:00:00Z"
    assert transfer["customerTenantId"] == s.customer_id
    assert transfer["sourcePartnerTenantId"] == PROVIDER["tenant_id"]
    assert transfer["targetPartnerTenantId"] == s.target.tenant_id
    assert transfer["partnerOnRecord"] == s.reseller_mpn
    assert transfer["customerEmailId"] == EMAIL
    assert transfer["lineItems"] == []
    again = await s.target.ok("GET", f"{s.transfers}/{transfer['id']}")
    assert again == transfer


async def test_create_without_required_fields_is_400_naming_them(pc: PartnerClient) -> None:
    s = await scene(pc)
    bare = {"partnerOnRecord": s.reseller_mpn}
    body = await s.target.fail("POST", s.transfers, bare, 400, 800002)
    for name in ("sourcePartnerTenantId", "sourcePartnerName", "customerEmailId"):
        assert name in body["description"]
    body = await s.target.fail("POST", s.transfers, s.body(sourcePartnerName=""), 400, 800002)
    assert "sourcePartnerName" in body["description"]
    assert "customerEmailId" not in body["description"]
    body = await s.target.fail("POST", s.transfers, s.body(customerEmailId="nobody"), 400, 800002)
    assert "customerEmailId" in body["description"]
    assert (await s.target.ok("GET", s.transfers))["items"] == []


async def test_create_naming_a_source_without_the_customer_is_400(pc: PartnerClient) -> None:
    s = await scene(pc)
    _, stranger = await new_provider(pc, "Wingtip Distribution")
    body = await s.target.fail(
        "POST", s.transfers, s.body(sourcePartnerTenantId=stranger["tenantId"]), 400, 800002
    )
    assert "sourcePartnerTenantId" in body["description"]


async def test_a_target_without_the_customers_relationship_gets_403_20002(
    pc: PartnerClient,
) -> None:
    s = await scene(pc, related=False)
    await s.target.fail("POST", s.transfers, s.body(), 403, 20002)
    assert (await pc.ok("GET", s.transfers))["items"] == []


async def test_a_partner_on_record_that_is_not_the_targets_reseller_is_refused(
    pc: PartnerClient,
) -> None:
    s = await scene(pc)
    await s.target.fail("POST", s.transfers, s.body(partnerOnRecord="9999999"), 404, 800015)
    # the default reseller works with the source provider, not with the target
    await s.target.fail("POST", s.transfers, s.body(partnerOnRecord="2000002"), 400, 800016)
    assert (await s.target.ok("GET", s.transfers))["items"] == []


async def test_the_source_sees_the_request_in_the_customers_transfer_list(
    pc: PartnerClient,
) -> None:
    s = await scene(pc)
    transfer = await s.create()
    listed = await s.source.ok("GET", s.transfers)
    assert [t["id"] for t in listed["items"]] == [transfer["id"]]
    assert listed["items"][0]["status"] == "Pending"
    one = await s.source.ok("GET", f"{s.transfers}/{transfer['id']}")
    assert one["id"] == transfer["id"]


# -- complete ---------------------------------------------------------------------------------------


async def test_source_completes_and_the_subscription_moves_to_the_target(
    pc: PartnerClient,
) -> None:
    s = await scene(pc)
    transfer = await s.create()
    done = await s.source.ok("PATCH", f"{s.transfers}/{transfer['id']}", s.accept(s.sub))
    assert done["id"] == transfer["id"]
    assert done["status"] == "Complete"
    assert done["completedTime"] == "2026-01-05T09:00:00Z"
    assert [item["subscriptionId"] for item in done["lineItems"]] == [s.sub["id"]]
    old = await s.source.ok("GET", s.subscription(s.sub["id"]))
    assert old["status"] == "deleted"
    moved = await subscriptions_of(s.target, s.customer_id)
    assert len(moved) == 1
    new = moved[0]
    assert new["id"] != s.sub["id"]
    assert new["offerId"] == BASIC
    assert new["quantity"] == 5
    assert new["status"] == "active"
    assert new["commitmentEndDate"] == s.sub["commitmentEndDate"]
    assert new["partnerId"] == s.reseller_mpn
    await s.source.fail("GET", s.subscription(new["id"]), None, 404, 20003)
    await s.target.fail("GET", s.subscription(s.sub["id"]), None, 404, 20003)


async def test_the_moved_subscription_renews_in_the_targets_account(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    await s.source.ok("PATCH", f"{s.transfers}/{transfer['id']}", s.accept(s.sub))
    new = (await subscriptions_of(s.target, s.customer_id))[0]
    events = await pc.sim("POST", "/clock/advance", {"to": "2027-01-06T00:00:00Z"})
    renewed = [e["resourceUri"] for e in events["events"] if e["type"] == "renewalCompleted"]
    assert renewed == [f"/customers/{s.customer_id}/subscriptions/{new['id']}"]


async def test_accepting_a_completed_transfer_again_is_409_900104(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    url = f"{s.transfers}/{transfer['id']}"
    await s.source.ok("PATCH", url, s.accept(s.sub))
    await s.source.fail("PATCH", url, s.accept(s.sub), 409, 900104)
    assert len(await subscriptions_of(s.target, s.customer_id)) == 1


async def test_a_subscription_of_another_customer_is_refused_and_nothing_moves(
    pc: PartnerClient,
) -> None:
    s = await scene(pc)
    _, elsewhere = await pc.customer_with_subscription("fabrikam.onmicrosoft.com")
    transfer = await s.create()
    url = f"{s.transfers}/{transfer['id']}"
    await s.source.fail("PATCH", url, s.accept(s.sub, elsewhere), 404, 20003)
    assert (await s.source.ok("GET", s.subscription(s.sub["id"])))["status"] == "active"
    assert await subscriptions_of(s.target, s.customer_id) == []
    assert (await s.source.ok("GET", url))["status"] == "Pending"


async def test_a_subscription_held_by_another_partner_is_refused_and_nothing_moves(
    pc: PartnerClient,
) -> None:
    s = await scene(pc)
    await s.target.accept_mca(s.customer_id)
    bought = await s.target.buy(s.customer_id, [line(quantity=3, reseller=None)])
    targets_own = {"id": bought["orders"][0]["lineItems"][0]["subscriptionId"], "quantity": 3}
    transfer = await s.create()
    url = f"{s.transfers}/{transfer['id']}"
    await s.source.fail("PATCH", url, s.accept(s.sub, targets_own), 404, 20003)
    assert (await s.source.ok("GET", s.subscription(s.sub["id"])))["status"] == "active"
    assert [x["id"] for x in await subscriptions_of(s.target, s.customer_id)] == [targets_own["id"]]
    assert (await s.source.ok("GET", url))["status"] == "Pending"


async def test_completing_without_line_items_is_400(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    url = f"{s.transfers}/{transfer['id']}"
    body = await s.source.fail("PATCH", url, {"status": "Complete"}, 400, 800002)
    assert "lineItems" in body["description"]
    assert (await s.source.ok("GET", url))["status"] == "Pending"


# -- cancel, roles, unknown ids ----------------------------------------------------------------------


async def test_target_cancels_a_pending_transfer(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    url = f"{s.transfers}/{transfer['id']}"
    canceled = await s.target.ok("PATCH", url, {"status": "Cancel"})
    assert canceled["status"] == "Canceled"
    await s.source.fail("PATCH", url, s.accept(s.sub), 409, 900104)
    await s.target.fail("PATCH", url, {"status": "Cancel"}, 409, 900104)
    assert (await s.source.ok("GET", s.subscription(s.sub["id"])))["status"] == "active"


async def test_the_source_cannot_cancel_and_the_target_cannot_complete(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    url = f"{s.transfers}/{transfer['id']}"
    body = await s.source.fail("PATCH", url, {"status": "Cancel"}, 400, 800002)
    assert "target" in body["description"]
    body = await s.target.fail("PATCH", url, s.accept(s.sub), 400, 800002)
    assert "source" in body["description"]
    await s.target.fail("PATCH", url, {"status": "Accepted"}, 400, 800002)
    assert (await s.source.ok("GET", url))["status"] == "Pending"
    assert await subscriptions_of(s.target, s.customer_id) == []


async def test_an_unknown_transfer_is_404_900100(pc: PartnerClient) -> None:
    s = await scene(pc)
    missing = "6a1e4f8c-93b1-4d7e-8a43-2b1f0e5c7d90"
    body = await s.target.fail("GET", f"{s.transfers}/{missing}", None, 404, 900100)
    assert missing in body["description"]
    await s.source.fail("PATCH", f"{s.transfers}/{missing}", s.accept(s.sub), 404, 900100)


async def test_a_partner_outside_the_transfer_cannot_see_it(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    third, made = await new_provider(pc, "Wingtip Distribution")
    await relate(pc, s.customer_id, made["tenantId"])
    assert (await third.ok("GET", s.transfers))["items"] == []
    await third.fail("GET", f"{s.transfers}/{transfer['id']}", None, 404, 900100)


# -- expiry and history -----------------------------------------------------------------------------


async def test_an_unanswered_transfer_expires_after_30_days(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    url = f"{s.transfers}/{transfer['id']}"
    answer = await pc.sim("POST", "/clock/advance", {"to": "2026-02-05T00:00:00Z"})
    expired = [e for e in answer["events"] if e["type"] == "transferExpired"]
    assert expired == [
        {
            "type": "transferExpired",
            "at": "2026-02-04T09:00:00Z",
            "resourceUri": f"/customers/{s.customer_id}/transfers/{transfer['id']}",
        }
    ]
    assert (await s.source.ok("GET", url))["status"] == "Expired"
    await s.source.fail("PATCH", url, s.accept(s.sub), 409, 900104)
    await s.target.fail("PATCH", url, {"status": "Cancel"}, 409, 900104)
    assert await subscriptions_of(s.target, s.customer_id) == []


async def test_a_transfer_is_still_pending_just_before_its_expiry(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    await pc.sim("POST", "/clock/advance", {"to": "2026-02-04T08:59:59Z"})
    url = f"{s.transfers}/{transfer['id']}"
    assert (await s.source.ok("PATCH", url, s.accept(s.sub)))["status"] == "Complete"


async def test_finished_transfers_stay_listed(pc: PartnerClient) -> None:
    s = await scene(pc)
    canceled = await s.create()
    await s.target.ok("PATCH", f"{s.transfers}/{canceled['id']}", {"status": "Cancel"})
    completed = await s.create()
    await s.source.ok("PATCH", f"{s.transfers}/{completed['id']}", s.accept(s.sub))
    expiring = await s.create()
    await pc.advance("P31D")
    listed = await s.target.ok("GET", s.transfers)
    statuses = {t["id"]: t["status"] for t in listed["items"]}
    assert statuses == {
        canceled["id"]: "Canceled",
        completed["id"]: "Complete",
        expiring["id"]: "Expired",
    }


async def test_a_partial_transfer_moves_some_seats_and_keeps_the_rest(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    url = f"{s.transfers}/{transfer['id']}"
    body = {"status": "Complete", "lineItems": [{"subscriptionId": s.sub["id"], "quantity": 2}]}
    await s.source.ok("PATCH", url, body)
    kept = await s.source.ok("GET", s.subscription(s.sub["id"]))
    assert (kept["status"], kept["quantity"]) == ("active", 3)
    assert kept["refundableQuantity"]["totalQuantity"] == 3
    moved = await subscriptions_of(s.target, s.customer_id)
    assert [(m["quantity"], m["refundableQuantity"]["totalQuantity"]) for m in moved] == [(2, 2)]


async def test_moving_more_seats_than_the_subscription_has_is_400(pc: PartnerClient) -> None:
    s = await scene(pc)
    transfer = await s.create()
    url = f"{s.transfers}/{transfer['id']}"
    body = {"status": "Complete", "lineItems": [{"subscriptionId": s.sub["id"], "quantity": 6}]}
    reply = await s.source.fail("PATCH", url, body, 400, 800002)
    assert "quantity" in reply["description"]
    assert (await s.source.ok("GET", s.subscription(s.sub["id"])))["quantity"] == 5
    assert (await s.source.ok("GET", url))["status"] == "Pending"


async def test_a_transfer_after_the_window_raises_no_stale_window_event(pc: PartnerClient) -> None:
    s = await scene(pc)
    await pc.advance("P10D")
    transfer = await s.create()
    await s.source.ok("PATCH", f"{s.transfers}/{transfer['id']}", s.accept(s.sub))
    events = await pc.advance("P1D")
    assert [e for e in events if e["type"] == "cancellationWindowClosed"] == []
    new = (await subscriptions_of(s.target, s.customer_id))[0]
    cancel = {**new, "status": "deleted"}
    await s.target.fail("PATCH", s.subscription(new["id"]), cancel, 400, 900213)


async def test_without_partner_on_record_the_moved_subscription_has_none(
    pc: PartnerClient,
) -> None:
    s = await scene(pc)
    created = await s.target.ok("POST", s.transfers, s.body(partnerOnRecord=None), status=201)
    await s.source.ok("PATCH", f"{s.transfers}/{created['id']}", s.accept(s.sub))
    moved = await subscriptions_of(s.target, s.customer_id)
    assert [m["partnerId"] for m in moved] == [""]


async def test_a_subscription_in_renewal_cannot_move_409(pc: PartnerClient) -> None:
    s = await scene(pc)
    await pc.sim("POST", "/clock/advance", {"to": "2027-01-05T01:00:00Z"})
    transfer = await s.create()
    url = f"{s.transfers}/{transfer['id']}"
    await s.source.fail("PATCH", url, s.accept(s.sub), 409, 800082)
    assert (await s.source.ok("GET", url))["status"] == "Pending"
    assert await subscriptions_of(s.target, s.customer_id) == []
