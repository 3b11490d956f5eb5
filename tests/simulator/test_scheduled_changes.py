"""Changes scheduled for the renewal (``scheduledNextTermInstructions``) and billing-cycle changes
mid-term (``nextChargeInstructions``), driven over HTTP and by moving the simulator's clock.

The subscription is Business Basic, P1Y billed monthly, bought 2026-01-05T09:00Z: its term ends
2027-01-04, the renewal runs 2027-01-05T00:00Z to 06:00Z, and its monthly cycle charges run on
the 5th of each month from 00:00Z to 06:00Z."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.conftest import BASIC, PartnerClient

STANDARD = ("CFQ7TTC0LDPB", "0001")
E3 = ("CFQ7TTC0LFLX", "0001")
TRIAL = "CFQ7TTC0LH18:0004:CFQ7TTC0K9T1"


def path(customer_id: str, sub_id: str) -> str:
    return f"/v1/customers/{customer_id}/subscriptions/{sub_id}"


async def availability(pc: PartnerClient, product: tuple[str, str]) -> str:
    found = await pc.ok(
        "GET", f"/v1/products/{product[0]}/skus/{product[1]}/availabilities?country=US"
    )
    return str(found["items"][0]["id"])


async def instructions(
    pc: PartnerClient,
    product: tuple[str, str] = STANDARD,
    quantity: int = 3,
    term: str = "P1M",
    cycle: str = "monthly",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "product": {
            "productId": product[0],
            "skuId": product[1],
            "availabilityId": await availability(pc, product),
            "termDuration": term,
            "billingCycle": cycle,
        },
        "quantity": quantity,
        **extra,
    }


async def schedule(
    pc: PartnerClient, customer_id: str, sub: dict[str, Any], wanted: dict[str, Any]
) -> dict[str, Any]:
    return dict(
        await pc.ok(
            "PATCH", path(customer_id, sub["id"]), {**sub, "scheduledNextTermInstructions": wanted}
        )
    )


async def advance_to(pc: PartnerClient, when: str) -> list[dict[str, Any]]:
    return list((await pc.sim("POST", "/clock/advance", {"to": when}))["events"])


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events if e["type"] != "cancellationWindowClosed"]


@pytest.fixture
async def bought(pc: PartnerClient) -> tuple[str, dict[str, Any]]:
    return await pc.customer_with_subscription()


# -- scheduling and applying ---------------------------------------------------------------------


async def test_a_scheduled_change_shows_on_the_subscription_and_changes_its_etag(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]]
) -> None:
    customer_id, sub = bought
    wanted = await instructions(pc)
    answer = await schedule(pc, customer_id, sub, wanted)
    assert answer["scheduledNextTermInstructions"] == wanted
    assert answer["attributes"]["etag"] != sub["attributes"]["etag"]
    assert (await pc.ok("GET", path(customer_id, sub["id"])))[
        "scheduledNextTermInstructions"
    ] == wanted
    assert answer["offerId"] == BASIC
    assert answer["quantity"] == 5


async def test_the_renewal_applies_the_scheduled_offer_seats_term_and_billing(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]]
) -> None:
    customer_id, sub = bought
    await schedule(pc, customer_id, sub, await instructions(pc, quantity=3))
    events = await advance_to(pc, "2027-01-05T07:00:00Z")
    assert types(events)[-2:] == ["renewalStarted", "renewalCompleted"]
    renewed = await pc.ok("GET", path(customer_id, sub["id"]))
    assert renewed["offerId"].startswith("CFQ7TTC0LDPB:0001:")
    assert renewed["offerName"] == "Microsoft 365 Business Standard"
    assert (renewed["quantity"], renewed["termDuration"], renewed["billingCycle"]) == (
        3, "P1M", "monthly",
    )  # fmt: skip
    assert renewed["commitmentEndDate"] == "2027-02-04T00:00:00Z"
    assert "scheduledNextTermInstructions" not in renewed
    assert renewed["refundableQuantity"]["totalQuantity"] == 3


async def test_a_co_terminous_end_date_at_a_month_end_becomes_the_new_term_end(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]]
) -> None:
    customer_id, sub = bought
    wanted = await instructions(
        pc, product=("CFQ7TTC0LH18", "0001"), quantity=5, term="P1Y",
        customTermEndDate="2027-12-31",
    )  # fmt: skip
    answer = await schedule(pc, customer_id, sub, wanted)
    assert answer["scheduledNextTermInstructions"]["customTermEndDate"] == "2027-12-31T00:00:00Z"
    await advance_to(pc, "2027-01-05T07:00:00Z")
    renewed = await pc.ok("GET", path(customer_id, sub["id"]))
    assert renewed["commitmentEndDate"] == "2027-12-31T00:00:00Z"


async def test_a_scheduled_trial_conversion_may_go_below_25_seats(pc: PartnerClient) -> None:
    customer_id, trial = await pc.customer_with_subscription(
        catalog_item_id=TRIAL, quantity=25, term="P1M", cycle="none"
    )
    wanted = await instructions(pc, product=("CFQ7TTC0LH18", "0001"), quantity=10, term="P1Y",
                                cycle="annual")  # fmt: skip
    await schedule(pc, customer_id, trial, wanted)
    events = await advance_to(pc, "2026-02-06T00:00:00Z")
    assert types(events) == ["renewalStarted", "trialConverted"]
    paid = await pc.ok("GET", path(customer_id, trial["id"]))
    assert (paid["isTrial"], paid["quantity"], paid["billingCycle"]) == (False, 10, "annual")
    assert paid["offerId"] == BASIC


# -- refusals --------------------------------------------------------------------------------------


async def test_a_scheduled_change_needs_auto_renew_on(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]]
) -> None:
    customer_id, sub = bought
    off = await pc.ok("PATCH", path(customer_id, sub["id"]), {**sub, "autoRenewEnabled": False})
    body = {**off, "scheduledNextTermInstructions": await instructions(pc)}
    refused = await pc.fail("PATCH", path(customer_id, sub["id"]), body, 400, 800093)
    assert "autoRenewEnabled" in refused["description"]
    assert await pc.ok("GET", path(customer_id, sub["id"])) == off


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"product": ("CFQ7TTC0LFLZ", "0002")}, 800002, "upgradeTargetOffers"),  # E5 not a target
        ({"term": "P3Y", "cycle": "annual"}, 800002, "not sold as P3Y/annual"),
        ({"term": "P1M", "cycle": "annual"}, 900270, "longer than the term"),
        ({"quantity": 301}, 2002, ""),
        ({"customTermEndDate": "next spring"}, 900244, "customTermEndDate"),
        ({"customTermEndDate": "2027-06-15"}, 900245, "last day of a calendar month"),
        ({"customTermEndDate": "2026-12-31"}, 900246, "inside the next term"),
    ],
)
async def test_a_scheduled_change_the_rules_refuse_changes_nothing(
    pc: PartnerClient,
    bought: tuple[str, dict[str, Any]],
    changes: dict[str, Any],
    code: int,
    words: str,
) -> None:
    customer_id, sub = bought
    wanted = await instructions(
        pc,
        product=changes.pop("product", STANDARD),
        quantity=changes.pop("quantity", 3),
        term=changes.pop("term", "P1Y"),
        cycle=changes.pop("cycle", "monthly"),
        **changes,
    )
    body = {**sub, "scheduledNextTermInstructions": wanted}
    refused = await pc.fail("PATCH", path(customer_id, sub["id"]), body, 400, code)
    assert words in refused["description"]
    assert await pc.ok("GET", path(customer_id, sub["id"])) == sub


async def test_scheduled_changes_are_read_only_while_the_renewal_runs(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]]
) -> None:
    customer_id, sub = bought
    await advance_to(pc, "2027-01-05T01:00:00Z")
    current = await pc.ok("GET", path(customer_id, sub["id"]))
    body = {**current, "scheduledNextTermInstructions": await instructions(pc)}
    await pc.fail("PATCH", path(customer_id, sub["id"]), body, 409, 800082)
    assert "scheduledNextTermInstructions" not in await pc.ok("GET", path(customer_id, sub["id"]))


# -- what removes them -----------------------------------------------------------------------------


async def test_a_patch_that_omits_the_instructions_clears_them(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]]
) -> None:
    customer_id, sub = bought
    scheduled = await schedule(pc, customer_id, sub, await instructions(pc))
    body = {k: v for k, v in scheduled.items() if k != "scheduledNextTermInstructions"}
    answer = await pc.ok("PATCH", path(customer_id, sub["id"]), {**body, "friendlyName": "HQ"})
    assert "scheduledNextTermInstructions" not in answer
    await advance_to(pc, "2027-01-05T07:00:00Z")
    assert (await pc.ok("GET", path(customer_id, sub["id"])))["offerId"] == BASIC


async def test_a_name_change_that_repeats_the_instructions_keeps_them(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]]
) -> None:
    customer_id, sub = bought
    scheduled = await schedule(pc, customer_id, sub, await instructions(pc))
    answer = await pc.ok("PATCH", path(customer_id, sub["id"]), {**scheduled, "friendlyName": "HQ"})
    assert answer["scheduledNextTermInstructions"] == scheduled["scheduledNextTermInstructions"]


@pytest.mark.parametrize(
    "change",
    [{"quantity": 7}, {"autoRenewEnabled": False}, {"status": "suspended"}, {"status": "deleted"}],
    ids=["quantity", "auto-renew off", "suspend", "cancel"],
)
async def test_the_seed_s_changes_remove_saved_instructions_even_when_the_body_repeats_them(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]], change: dict[str, Any]
) -> None:
    customer_id, sub = bought
    scheduled = await schedule(pc, customer_id, sub, await instructions(pc))
    answer = await pc.ok("PATCH", path(customer_id, sub["id"]), {**scheduled, **change})
    assert "scheduledNextTermInstructions" not in answer


# -- billing-cycle changes -------------------------------------------------------------------------


async def test_a_billing_cycle_change_waits_for_the_next_cycle_charge(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]]
) -> None:
    customer_id, sub = bought
    answer = await pc.ok("PATCH", path(customer_id, sub["id"]), {**sub, "billingCycle": "annual"})
    assert answer["billingCycle"] == "monthly"
    assert answer["nextChargeInstructions"]["product"]["billingCycle"] == "annual"
    assert answer["nextChargeInstructions"]["quantity"] == 5
    assert types(await advance_to(pc, "2026-02-05T05:59:00Z")) == []
    events = await advance_to(pc, "2026-02-05T06:00:00Z")
    assert types(events) == ["billingCycleChanged"]
    changed = await pc.ok("GET", path(customer_id, sub["id"]))
    assert changed["billingCycle"] == "annual"
    assert "nextChargeInstructions" not in changed


async def test_a_billing_cycle_change_is_read_only_during_a_cycle_charge(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]]
) -> None:
    customer_id, sub = bought
    await advance_to(pc, "2026-03-05T02:00:00Z")
    body = {**sub, "billingCycle": "annual"}
    await pc.fail("PATCH", path(customer_id, sub["id"]), body, 409, 900278)
    assert "nextChargeInstructions" not in await pc.ok("GET", path(customer_id, sub["id"]))
    await advance_to(pc, "2026-03-05T06:00:00Z")
    assert (await pc.ok("PATCH", path(customer_id, sub["id"]), body))["nextChargeInstructions"]


async def test_a_pending_billing_change_survives_a_seat_change_but_not_an_omission(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]]
) -> None:
    customer_id, sub = bought
    pending = await pc.ok("PATCH", path(customer_id, sub["id"]), {**sub, "billingCycle": "annual"})
    more = await pc.ok("PATCH", path(customer_id, sub["id"]), {**pending, "quantity": 7})
    assert more["nextChargeInstructions"]["product"]["billingCycle"] == "annual"
    body = {k: v for k, v in more.items() if k != "nextChargeInstructions"}
    dropped = await pc.ok("PATCH", path(customer_id, sub["id"]), {**body, "friendlyName": "HQ"})
    assert "nextChargeInstructions" not in dropped
    assert types(await advance_to(pc, "2026-02-06T00:00:00Z")) == []
    assert (await pc.ok("GET", path(customer_id, sub["id"])))["billingCycle"] == "monthly"


async def test_an_annual_billed_change_to_monthly_takes_effect_at_the_renewal(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription(cycle="annual")
    await pc.ok("PATCH", path(customer_id, sub["id"]), {**sub, "billingCycle": "monthly"})
    await advance_to(pc, "2026-12-31T00:00:00Z")
    assert (await pc.ok("GET", path(customer_id, sub["id"])))["billingCycle"] == "annual"
    await advance_to(pc, "2027-01-05T07:00:00Z")
    renewed = await pc.ok("GET", path(customer_id, sub["id"]))
    assert renewed["billingCycle"] == "monthly"
    assert "nextChargeInstructions" not in renewed


@pytest.mark.parametrize(
    ("cycle", "code"), [("triennial", 900270), ("weekly", 900269), ("none", 900269)]
)
async def test_a_billing_cycle_the_offer_does_not_sell_for_the_term_is_refused(
    pc: PartnerClient, bought: tuple[str, dict[str, Any]], cycle: str, code: int
) -> None:
    customer_id, sub = bought
    await pc.fail("PATCH", path(customer_id, sub["id"]), {**sub, "billingCycle": cycle}, 400, code)
    assert await pc.ok("GET", path(customer_id, sub["id"])) == sub


async def test_a_trial_s_billing_cycle_cannot_change(pc: PartnerClient) -> None:
    customer_id, trial = await pc.customer_with_subscription(
        catalog_item_id=TRIAL, quantity=25, term="P1M", cycle="none"
    )
    body = {**trial, "billingCycle": "monthly"}
    await pc.fail("PATCH", path(customer_id, trial["id"]), body, 400, 800097)
    assert await pc.ok("GET", path(customer_id, trial["id"])) == trial
