"""Changes scheduled for the renewal and billing-cycle changes through the gateway, against the
simulator, with its clock moved to the renewal (2027-01-05) or the next cycle charge
(2026-02-05, 00:00Z to 06:00Z) of Business Basic P1Y/monthly bought 2026-01-05T09:00Z."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import Gateway, purchase_order
from tests.gateway.test_subscription_ops import (
    Bought,
    assert_refused,
    assert_succeeded,
    change,
    patches,
    state,
)
from tests.simulator.conftest import PartnerClient

STANDARD = "Microsoft 365 Business Standard (NCE COM 1MO MTH)"
TRIAL = "CFQ7TTC0LH18:0004:CFQ7TTC0K9T1"


@pytest.fixture
async def bought(gw: Gateway) -> Bought:
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op
    [sub] = op["result"]["subscriptionIds"]
    return Bought(op["result"]["customerId"], sub)


async def advance_to(sim: PartnerClient, when: str) -> None:
    await sim.sim("POST", "/clock/advance", {"to": when})


async def test_a_scheduled_change_is_applied_by_the_renewal(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    op = await change(gw, bought, "scheduled-change", {"planCode": STANDARD, "quantity": 3})
    assert_succeeded(op)
    scheduled = op["result"]["scheduledChange"]
    assert scheduled["product"]["productId"] == "CFQ7TTC0LDPB"
    assert (scheduled["product"]["termDuration"], scheduled["quantity"]) == ("P1M", 3)
    shown = await gw.http.get(bought.path)
    assert (await shown.json())["scheduledChange"] == scheduled
    await advance_to(sim, "2027-01-05T07:00:00Z")
    renewed = await state(sim, bought)
    assert renewed["offerName"] == "Microsoft 365 Business Standard"
    assert (renewed["quantity"], renewed["termDuration"]) == (3, "P1M")


async def test_a_scheduled_change_by_catalog_item_id_names_term_and_billing(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    body = {"catalogItemId": "CFQ7TTC0LH18:0001:CFQ7TTC0K971", "termDuration": "P1Y",
            "billingCycle": "annual", "quantity": 2}  # fmt: skip
    assert_succeeded(await change(gw, bought, "scheduled-change", body))
    scheduled = (await state(sim, bought))["scheduledNextTermInstructions"]
    assert (scheduled["product"]["billingCycle"], scheduled["quantity"]) == ("annual", 2)


async def test_scheduling_with_auto_renew_off_is_refused_without_a_patch(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    assert_succeeded(await change(gw, bought, "auto-renew", {"enabled": False}))
    before = await patches(sim, bought)
    op = await change(gw, bought, "scheduled-change", {"planCode": STANDARD, "quantity": 3})
    assert_refused(op, "auto-renew on")
    assert await patches(sim, bought) == before


async def test_a_downgrade_is_refused_with_partner_center_s_rule(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    basic_to_e1 = {"planCode": "Office 365 E1 (NCE COM 1YR MTH)", "quantity": 3}
    op = await change(gw, bought, "scheduled-change", basic_to_e1)
    assert_refused(op, "upgradeTargetOffers")
    assert op["error"]["partnerCenterCode"] == 800002, op["error"]
    assert "scheduledNextTermInstructions" not in await state(sim, bought)


async def test_an_unknown_plan_is_refused_before_partner_center(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    before = await patches(sim, bought)
    op = await change(gw, bought, "scheduled-change", {"planCode": "Nope (NCE COM 1YR MTH)",
                                                       "quantity": 1})  # fmt: skip
    assert_refused(op, "planCode")
    assert await patches(sim, bought) == before


async def test_a_scheduled_change_body_must_name_the_offer_one_way(
    gw: Gateway, bought: Bought
) -> None:
    resp = await gw.post(f"{bought.path}/scheduled-change", {"quantity": 3})
    assert resp.status == 400
    assert "give either planCode or catalogItemId" in (await resp.json())["message"]
    resp = await gw.post(
        f"{bought.path}/scheduled-change",
        {"catalogItemId": "CFQ7TTC0LH18:0001:CFQ7TTC0K971", "quantity": 3},
    )
    assert resp.status == 400
    assert "needs termDuration and billingCycle" in (await resp.json())["message"]


async def test_cancelling_the_scheduled_change_removes_it_and_a_second_cancel_is_refused(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    assert_succeeded(await change(gw, bought, "scheduled-change", {"planCode": STANDARD,
                                                                   "quantity": 3}))  # fmt: skip
    op = await change(gw, bought, "scheduled-change/cancel")
    assert_succeeded(op)
    assert op["result"]["scheduledChange"] is None
    assert "scheduledNextTermInstructions" not in await state(sim, bought)
    assert_refused(await change(gw, bought, "scheduled-change/cancel"), "Nothing is scheduled")


async def test_a_partner_of_record_change_keeps_the_scheduled_change_and_pending_billing(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    assert_succeeded(await change(gw, bought, "scheduled-change", {"planCode": STANDARD,
                                                                   "quantity": 3}))  # fmt: skip
    assert_succeeded(await change(gw, bought, "billing-cycle", {"billingCycle": "annual"}))
    before = await state(sim, bought)
    op = await change(gw, bought, "partner-of-record", {"mpnId": "2000002"})
    assert_succeeded(op)
    after = await state(sim, bought)
    assert after["scheduledNextTermInstructions"] == before["scheduledNextTermInstructions"]
    assert after["nextChargeInstructions"] == before["nextChargeInstructions"]


@pytest.mark.parametrize(
    ("action", "body"),
    [("seats", {"quantity": 7}), ("auto-renew", {"enabled": False}), ("suspend", {})],
)
async def test_the_seed_s_changes_remove_the_scheduled_change(
    gw: Gateway, sim: PartnerClient, bought: Bought, action: str, body: dict[str, Any]
) -> None:
    assert_succeeded(await change(gw, bought, "scheduled-change", {"planCode": STANDARD,
                                                                   "quantity": 3}))  # fmt: skip
    op = await change(gw, bought, action, body)
    assert_succeeded(op)
    assert op["result"]["scheduledChange"] is None
    assert "scheduledNextTermInstructions" not in await state(sim, bought)


async def test_a_scheduled_trial_conversion_with_fewer_seats(
    gw: Gateway, sim: PartnerClient
) -> None:
    order = purchase_order(lines=[{"catalogItemId": TRIAL, "termDuration": "P1M",
                                   "billingCycle": "none", "quantity": 25}])  # fmt: skip
    op = await gw.wait((await gw.submit("/v1/orders", order))["id"])
    assert_succeeded(op)
    trial = Bought(op["result"]["customerId"], op["result"]["subscriptionIds"][0])
    body = {"planCode": "Microsoft 365 Business Basic (NCE COM 1YR ANN)", "quantity": 10}
    assert_succeeded(await change(gw, trial, "scheduled-change", body))
    await advance_to(sim, "2026-02-06T00:00:00Z")
    paid = await state(sim, trial)
    assert (paid["isTrial"], paid["quantity"], paid["billingCycle"]) == (False, 10, "annual")


# -- billing cycle ---------------------------------------------------------------------------------


async def test_a_billing_cycle_change_takes_effect_at_the_next_charge(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    op = await change(gw, bought, "billing-cycle", {"billingCycle": "annual"})
    assert_succeeded(op)
    assert (op["result"]["billingCycle"], op["result"]["billingCycleFromNextCharge"]) == (
        "monthly", "annual",
    )  # fmt: skip
    again = await change(gw, bought, "billing-cycle", {"billingCycle": "annual"})
    assert_succeeded(again)
    await advance_to(sim, "2026-02-05T06:00:00Z")
    assert (await state(sim, bought))["billingCycle"] == "annual"


async def test_asking_for_the_current_cycle_drops_a_pending_change(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    assert_succeeded(await change(gw, bought, "billing-cycle", {"billingCycle": "annual"}))
    op = await change(gw, bought, "billing-cycle", {"billingCycle": "monthly"})
    assert_succeeded(op)
    assert "nextChargeInstructions" not in await state(sim, bought)


async def test_a_billing_cycle_longer_than_the_term_fails_with_microsoft_s_code(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    op = await change(gw, bought, "billing-cycle", {"billingCycle": "triennial"})
    assert op["status"] == "failed", op
    assert op["error"]["partnerCenterCode"] == 900270, op["error"]
    assert "nextChargeInstructions" not in await state(sim, bought)


async def test_a_billing_change_during_a_cycle_charge_waits_and_then_succeeds(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    await advance_to(sim, "2026-02-05T01:00:00Z")
    accepted = await gw.submit(f"{bought.path}/billing-cycle", {"billingCycle": "annual"})
    running = await gw.wait(accepted["id"], until=("running", "succeeded", "failed"))
    for _ in range(40):
        if any(s["attempts"] > 1 for s in running.get("steps", [])):
            break
        running = await gw.operation(accepted["id"])
        assert running["status"] == "running", running
    await advance_to(sim, "2026-02-05T06:00:00Z")
    done = await gw.wait(accepted["id"])
    assert_succeeded(done)
    assert (await state(sim, bought))["nextChargeInstructions"]["product"]["billingCycle"] == (
        "annual"
    )
