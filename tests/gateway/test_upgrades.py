"""Upgrades and trial conversions through the gateway, against the simulator: full, partial and
into an existing subscription; refusals (no downgrades, only from active, the target's window,
900267, trials under 25 seats) fail before anything is written, with a sentence saying what to
do, or with Microsoft's code kept."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Gateway
from tests.simulator.conftest import BASIC, PartnerClient, line

STANDARD = "CFQ7TTC0LDPB:0001:CFQ7TTC0K5DJ"
E3 = "CFQ7TTC0LFLX:0001:CFQ7TTC0K8P5"
TRIAL = "CFQ7TTC0LH18:0004:CFQ7TTC0K9T1"
STANDARD_PLAN = "Microsoft 365 Business Standard (NCE COM 1YR MTH)"


def _sub_path(customer: str, sub: str) -> str:
    return f"/v1/customers/{customer}/subscriptions/{sub}"


async def upgrade(gw: Gateway, customer: str, sub: str, body: dict[str, Any]) -> dict[str, Any]:
    accepted = await gw.submit(_sub_path(customer, sub) + "/upgrade", body)
    assert (accepted["kind"], accepted["status"]) == ("upgrade", "accepted")
    return await gw.wait(accepted["id"])


async def buy(sim: PartnerClient, customer: str, **line_args: Any) -> dict[str, Any]:
    result = await sim.buy(customer, [line(**line_args)])
    sub_id = result["orders"][0]["lineItems"][0]["subscriptionId"]
    return dict(await sim.ok("GET", _sub_path(customer, sub_id)))


async def writes(sim: PartnerClient, customer: str) -> list[tuple[str, str]]:
    items = (await sim.sim("GET", "/requests?limit=10000"))["items"]
    return [
        (r["method"], r["path"]) for r in items if customer in r["path"] and r["method"] != "GET"
    ]


async def transitions(sim: PartnerClient, customer: str, sub: str) -> list[dict[str, Any]]:
    body = await sim.ok("GET", _sub_path(customer, sub) + "/transitions")
    return list(body["transition"])


# -- upgrades that succeed -----------------------------------------------------------------------


async def test_a_full_upgrade_by_plan_code_keeps_the_subscription_id(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, sub = await sim.customer_with_subscription("full.onmicrosoft.com")
    await gw.assign(customer)  # a customer from before the gateway
    op = await upgrade(gw, customer, sub["id"], {"planCode": STANDARD_PLAN})
    assert op["status"] == "succeeded", op
    assert op["result"]["subscriptionIds"] == [sub["id"]]
    assert op["result"]["upgradedSubscriptionId"] == sub["id"]
    after = await sim.ok("GET", _sub_path(customer, sub["id"]))
    assert (after["offerId"], after["quantity"]) == (STANDARD, 5)
    assert after["cancellationAllowedUntilDate"] == sub["cancellationAllowedUntilDate"]
    [listed] = await transitions(sim, customer, sub["id"])
    assert listed["transitionType"] == "transition_with_license_transfer"


async def test_a_partial_upgrade_creates_a_coterminous_subscription(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, sub = await sim.customer_with_subscription("partial.onmicrosoft.com")
    await gw.assign(customer)  # a customer from before the gateway
    body = {"catalogItemId": E3, "termDuration": "P1Y", "billingCycle": "monthly", "quantity": 2}
    op = await upgrade(gw, customer, sub["id"], body)
    assert op["status"] == "succeeded", op
    source_id, new_id = op["result"]["subscriptionIds"]
    assert source_id == sub["id"]
    assert new_id != sub["id"]
    new = await sim.ok("GET", _sub_path(customer, new_id))
    assert (new["offerId"], new["quantity"]) == (E3, 2)
    assert new["commitmentEndDate"] == sub["commitmentEndDate"]
    assert "cancellationAllowedUntilDate" not in new
    assert (await sim.ok("GET", _sub_path(customer, sub["id"])))["quantity"] == 3


async def test_an_upgrade_into_an_existing_subscription_adds_its_seats(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, sub = await sim.customer_with_subscription("into.onmicrosoft.com")
    await gw.assign(customer)  # a customer from before the gateway
    standard = await buy(sim, customer, catalog_item_id=STANDARD, quantity=3)
    await sim.advance("P8D")
    body = {"planCode": STANDARD_PLAN, "quantity": 2, "toSubscriptionId": standard["id"]}
    op = await upgrade(gw, customer, sub["id"], body)
    assert op["status"] == "succeeded", op
    assert op["result"]["upgradedSubscriptionId"] == standard["id"]
    assert (await sim.ok("GET", _sub_path(customer, standard["id"])))["quantity"] == 5
    assert (await sim.ok("GET", _sub_path(customer, sub["id"])))["quantity"] == 3


async def test_a_trial_converts_to_its_paid_offer_through_the_gateway(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, trial = await sim.customer_with_subscription(
        "trial.onmicrosoft.com", catalog_item_id=TRIAL, quantity=25, term="P1M", cycle="none"
    )
    await gw.assign(customer)  # a customer from before the gateway
    body = {"planCode": "Microsoft 365 Business Basic (NCE COM 1YR MTH)", "quantity": 30}
    op = await upgrade(gw, customer, trial["id"], body)
    assert op["status"] == "succeeded", op
    after = await sim.ok("GET", _sub_path(customer, trial["id"]))
    assert (after["isTrial"], after["offerId"], after["quantity"]) == (False, BASIC, 30)


# -- refusals --------------------------------------------------------------------------------------


async def test_a_downgrade_fails_before_anything_is_written(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, _ = await sim.customer_with_subscription("down.onmicrosoft.com")
    await gw.assign(customer)  # a customer from before the gateway
    standard = await buy(sim, customer, catalog_item_id=STANDARD)
    before = await writes(sim, customer)
    body = {"planCode": "Microsoft 365 Business Basic (NCE COM 1YR MTH)"}
    op = await upgrade(gw, customer, standard["id"], body)
    assert (op["status"], op["error"]["reason"]) == ("failed", "upgrade_not_a_target"), op
    assert "downgrades are not possible" in op["error"]["message"]
    assert await writes(sim, customer) == before
    assert (await sim.ok("GET", _sub_path(customer, standard["id"])))["offerId"] == STANDARD


async def test_a_suspended_subscription_is_not_upgraded(gw: Gateway, sim: PartnerClient) -> None:
    customer, sub = await sim.customer_with_subscription("susp.onmicrosoft.com")
    await gw.assign(customer)  # a customer from before the gateway
    await sim.ok("PATCH", _sub_path(customer, sub["id"]), {"status": "suspended"})
    op = await upgrade(gw, customer, sub["id"], {"planCode": STANDARD_PLAN})
    assert (op["status"], op["error"]["reason"]) == ("failed", "upgrade_not_active"), op
    assert "only active subscriptions" in op["error"]["message"]
    assert await transitions(sim, customer, sub["id"]) == []


async def test_an_existing_target_in_its_window_is_refused_from_eligibility(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, sub = await sim.customer_with_subscription("window.onmicrosoft.com")
    await gw.assign(customer)  # a customer from before the gateway
    standard = await buy(sim, customer, catalog_item_id=STANDARD)
    body = {"planCode": STANDARD_PLAN, "toSubscriptionId": standard["id"]}
    op = await upgrade(gw, customer, sub["id"], body)
    assert (op["status"], op["error"]["reason"]) == ("failed", "upgrade_target_not_eligible"), op
    assert "cancellation window" in op["error"]["message"]
    assert await transitions(sim, customer, sub["id"]) == []


async def test_a_shorter_term_keeps_microsofts_900267(gw: Gateway, sim: PartnerClient) -> None:
    customer, sub = await sim.customer_with_subscription("short.onmicrosoft.com")
    await gw.assign(customer)  # a customer from before the gateway
    body = {"catalogItemId": STANDARD, "termDuration": "P1M", "billingCycle": "monthly"}
    op = await upgrade(gw, customer, sub["id"], body)
    assert op["status"] == "failed", op
    assert (op["error"]["step"], op["error"]["partnerCenterCode"]) == ("transition", 900267)
    assert (await sim.ok("GET", _sub_path(customer, sub["id"])))["offerId"] == BASIC


async def test_a_trial_under_25_seats_is_refused(gw: Gateway, sim: PartnerClient) -> None:
    customer, trial = await sim.customer_with_subscription(
        "trial9.onmicrosoft.com", catalog_item_id=TRIAL, quantity=25, term="P1M", cycle="none"
    )
    await gw.assign(customer)  # a customer from before the gateway
    body = {"planCode": "Microsoft 365 Business Basic (NCE COM 1YR MTH)", "quantity": 10}
    op = await upgrade(gw, customer, trial["id"], body)
    assert (op["status"], op["error"]["reason"]) == ("failed", "upgrade_trial_seats"), op
    assert "at least 25 seats" in op["error"]["message"]
    assert (await sim.ok("GET", _sub_path(customer, trial["id"])))["isTrial"] is True


async def test_bad_upgrade_requests_are_400_naming_the_field_and_leave_no_operation(
    gw: Gateway, sim: PartnerClient
) -> None:
    customer, sub = await sim.customer_with_subscription("bad.onmicrosoft.com")
    await gw.assign(customer)  # a customer from before the gateway
    path = _sub_path(customer, sub["id"]) + "/upgrade"
    cases = [
        ({"planCode": "Microsoft 365 Nonesuch (NCE COM 1YR MTH)"}, "planCode"),
        ({"catalogItemId": STANDARD}, "body"),
        ({"planCode": STANDARD_PLAN, "quantity": 0}, "quantity"),
        ({"planCode": STANDARD_PLAN, "transitionType": "upgrade"}, "transitionType"),
        ({"planCode": STANDARD_PLAN, "toSubscriptionId": "not an id"}, "toSubscriptionId"),
    ]
    for body, field in cases:
        resp = await gw.post(path, body)
        problem = await resp.json()
        assert resp.status == 400, (body, problem)
        assert problem["field"] == field, (body, problem)
        assert "lines[0]" not in problem["message"], problem
    listed = await (await gw.http.get("/v1/operations")).json()
    assert listed["items"] == []
