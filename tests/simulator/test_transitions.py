"""NCE transitions over HTTP: eligibility, full and partial upgrades, upgrades into an existing
subscription, the refusals (no downgrades, only from active, 900260, 900267, windows, end
dates) and mid-term trial conversion."""

from __future__ import annotations

from typing import Any

from tests.simulator.conftest import BASIC, PartnerClient, line

STANDARD = "CFQ7TTC0LDPB:0001:CFQ7TTC0K5DJ"
PREMIUM = "CFQ7TTC0LCHC:0002:CFQ7TTC0K5C4"
E3 = "CFQ7TTC0LFLX:0001:CFQ7TTC0K8P5"
E5 = "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS"
TRIAL = "CFQ7TTC0LH18:0004:CFQ7TTC0K9T1"


def _path(customer: str, sub: str, tail: str = "") -> str:
    return f"/v1/customers/{customer}/subscriptions/{sub}{tail}"


def _move(to: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {
        "toCatalogItemId": to,
        "quantity": quantity,
        "transitionType": "transition_only",
        **extra,
    }


async def _buy(pc: PartnerClient, customer: str, **line_args: Any) -> dict[str, Any]:
    result = await pc.buy(customer, [line(**line_args)])
    sub_id = result["orders"][0]["lineItems"][0]["subscriptionId"]
    return dict(await pc.ok("GET", _path(customer, sub_id)))


async def _unchanged(pc: PartnerClient, customer: str, before: dict[str, Any]) -> None:
    after = await pc.ok("GET", _path(customer, before["id"]))
    keys = ("offerId", "quantity", "status", "commitmentEndDate", "termDuration")
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}
    assert (await pc.ok("GET", _path(customer, before["id"], "/transitions")))["transition"] == []


# -- eligibility -------------------------------------------------------------------------------


async def test_eligibilities_list_the_skus_upgrade_targets_as_a_collection(
    pc: PartnerClient,
) -> None:
    customer, sub = await pc.customer_with_subscription()
    body = await pc.ok("GET", _path(customer, sub["id"], "/transitionEligibilities"))
    assert body["attributes"]["objectType"] == "Collection"
    assert [i["catalogItemId"] for i in body["items"]] == [STANDARD, PREMIUM, E3]
    first = body["items"][0]
    assert first["quantity"] == 5
    assert [(e["transitionType"], e["isEligible"]) for e in first["eligibilities"]] == [
        ("transition_only", True),
        ("transition_with_license_transfer", True),
    ]


async def test_existing_targets_carry_microsofts_error_codes(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    in_window = await _buy(pc, customer, catalog_item_id=STANDARD)
    shorter = await _buy(pc, customer, catalog_item_id=STANDARD, term="P1M")
    body = await pc.ok("GET", _path(customer, sub["id"], "/transitionEligibilities"))
    standard = next(i for i in body["items"] if i["catalogItemId"] == STANDARD)
    codes = {
        e["subscriptionId"]: [x["code"] for x in e["errors"]]
        for e in standard["subscriptionEligibilities"]
    }
    # 2 = inside its cancellation window, 3 = shorter term, 4 = ends before the source
    assert codes == {in_window["id"]: [2], shorter["id"]: [2, 3, 4]}
    await pc.advance("P8D")
    body = await pc.ok("GET", _path(customer, sub["id"], "/transitioneligibilities"))
    standard = next(i for i in body["items"] if i["catalogItemId"] == STANDARD)
    eligible = {e["subscriptionId"]: e["isEligible"] for e in standard["subscriptionEligibilities"]}
    assert eligible == {in_window["id"]: True, shorter["id"]: False}


async def test_scheduled_eligibility_lists_no_existing_subscriptions(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    await _buy(pc, customer, catalog_item_id=STANDARD)
    body = await pc.ok(
        "GET", _path(customer, sub["id"], "/transitionEligibilities?eligibilityType=scheduled")
    )
    assert body["items"]
    assert all(i["subscriptionEligibilities"] == [] for i in body["items"])


async def test_an_unknown_eligibility_type_is_refused(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    body = await pc.fail(
        "GET",
        _path(customer, sub["id"], "/transitionEligibilities?eligibilityType=soon"),
        None,
        400,
        800002,
    )
    assert "eligibilityType" in body["description"]


async def test_a_suspended_subscription_is_listed_as_not_eligible(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    await pc.ok("PATCH", _path(customer, sub["id"]), {"status": "suspended"})
    body = await pc.ok("GET", _path(customer, sub["id"], "/transitionEligibilities"))
    assert all(not e["isEligible"] for i in body["items"] for e in i["eligibilities"])


# -- full and partial upgrades -----------------------------------------------------------------


async def test_a_full_upgrade_keeps_the_id_and_the_cancellation_window(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    answer = await pc.ok("POST", _path(customer, sub["id"], "/transitions"), _move(STANDARD, 5))
    assert answer["toSubscriptionId"] == sub["id"]
    assert [(e["name"], e["status"]) for e in answer["Events"]] == [("Conversion", "Started")]
    after = await pc.ok("GET", _path(customer, sub["id"]))
    assert after["offerId"] == STANDARD
    assert after["quantity"] == 5
    assert after["commitmentEndDate"] == sub["commitmentEndDate"]
    assert after["cancellationAllowedUntilDate"] == sub["cancellationAllowedUntilDate"]
    assert after["attributes"]["etag"] != sub["attributes"]["etag"]


async def test_a_transition_is_listed_as_soon_as_the_post_answers(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    answer = await pc.ok("POST", _path(customer, sub["id"], "/transitions"), _move(STANDARD, 5))
    body = await pc.ok("GET", _path(customer, sub["id"], "/transitions"))
    assert body["attributes"]["objectType"] == "Collection"
    [listed] = body["transition"]
    assert listed["operationId"] == answer["operationId"]
    assert (listed["fromCatalogItemId"], listed["toCatalogItemId"]) == (BASIC, STANDARD)
    assert ("Conversion", "Completed") in [(e["name"], e["status"]) for e in listed["Events"]]
    other = await pc.ok("GET", _path(customer, sub["id"], "/transitions?operationId=nope"))
    assert other["transition"] == []


async def test_a_partial_upgrade_makes_a_coterminous_subscription_without_a_window(
    pc: PartnerClient,
) -> None:
    customer, sub = await pc.customer_with_subscription()
    await pc.advance("P30D")
    answer = await pc.ok("POST", _path(customer, sub["id"], "/transitions"), _move(E3, 2))
    new_id = answer["toSubscriptionId"]
    assert new_id != sub["id"]
    source = await pc.ok("GET", _path(customer, sub["id"]))
    assert (source["offerId"], source["quantity"]) == (BASIC, 3)
    new = await pc.ok("GET", _path(customer, new_id))
    assert (new["offerId"], new["quantity"], new["status"]) == (E3, 2, "active")
    assert new["commitmentEndDate"] == sub["commitmentEndDate"]
    assert "cancellationAllowedUntilDate" not in new
    assert new["refundableQuantity"]["totalQuantity"] == 0
    await pc.fail("PATCH", _path(customer, new_id), {"status": "deleted"}, 400, 900213)


async def test_a_partial_upgrade_inside_the_window_leaves_the_rest_reducible(
    pc: PartnerClient,
) -> None:
    customer, sub = await pc.customer_with_subscription()
    await pc.ok("POST", _path(customer, sub["id"], "/transitions"), _move(STANDARD, 2))
    source = await pc.ok("GET", _path(customer, sub["id"]))
    assert source["refundableQuantity"]["totalQuantity"] == 3


# -- refusals ----------------------------------------------------------------------------------


async def test_a_downgrade_is_refused_and_nothing_changes(pc: PartnerClient) -> None:
    customer, _ = await pc.customer_with_subscription()
    standard = await _buy(pc, customer, catalog_item_id=STANDARD)
    body = await pc.fail(
        "POST", _path(customer, standard["id"], "/transitions"), _move(BASIC, 5), 400, 800002
    )
    assert "upgradeTargetOffers" in body["description"]
    await _unchanged(pc, customer, standard)


async def test_a_target_not_listed_as_an_upgrade_is_refused(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    body = await pc.fail(
        "POST", _path(customer, sub["id"], "/transitions"), _move(E5, 5), 400, 800002
    )
    assert "not an upgrade target" in body["description"]
    await _unchanged(pc, customer, sub)


async def test_only_active_subscriptions_can_be_upgraded(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    suspended = await pc.ok("PATCH", _path(customer, sub["id"]), {"status": "suspended"})
    body = await pc.fail(
        "POST", _path(customer, sub["id"], "/transitions"), _move(STANDARD, 5), 400, 800002
    )
    assert "only active subscriptions" in body["description"]
    await _unchanged(pc, customer, suspended)


async def test_bad_transition_bodies_are_refused_naming_the_field(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    url = _path(customer, sub["id"], "/transitions")
    cases = [
        (_move(STANDARD, 6), "quantity"),
        (_move(STANDARD, 0), "quantity"),
        (_move(STANDARD, 5, transitionType="upgrade"), "transitionType"),
        ({"quantity": 5, "transitionType": "transition_only"}, "toCatalogItemId"),
        (_move(STANDARD, 5, termDuration="P3Y"), "termDuration"),
    ]
    for body, named in cases:
        refused = await pc.fail("POST", url, body, 400, 800002)
        assert named in refused["description"], refused
    await _unchanged(pc, customer, sub)


async def test_a_shorter_target_term_is_refused_with_900267(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    await pc.fail(
        "POST",
        _path(customer, sub["id"], "/transitions"),
        _move(STANDARD, 5, termDuration="P1M", billingCycle="monthly"),
        400,
        900267,
    )
    await _unchanged(pc, customer, sub)


# -- into an existing subscription -------------------------------------------------------------


async def test_an_existing_target_of_another_offer_is_refused_with_900260(
    pc: PartnerClient,
) -> None:
    customer, sub = await pc.customer_with_subscription()
    premium = await _buy(pc, customer, catalog_item_id=PREMIUM)
    await pc.advance("P8D")
    move = _move(STANDARD, 5, toSubscriptionId=premium["id"])
    await pc.fail("POST", _path(customer, sub["id"], "/transitions"), move, 400, 900260)
    await _unchanged(pc, customer, sub)


async def test_an_existing_target_with_a_shorter_term_is_refused_with_900267(
    pc: PartnerClient,
) -> None:
    customer, sub = await pc.customer_with_subscription()
    monthly = await _buy(pc, customer, catalog_item_id=STANDARD, term="P1M")
    await pc.advance("P8D")
    move = _move(STANDARD, 5, toSubscriptionId=monthly["id"])
    await pc.fail("POST", _path(customer, sub["id"], "/transitions"), move, 400, 900267)
    await _unchanged(pc, customer, monthly)


async def test_an_existing_target_inside_its_window_is_refused(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    standard = await _buy(pc, customer, catalog_item_id=STANDARD)
    move = _move(STANDARD, 2, toSubscriptionId=standard["id"])
    body = await pc.fail("POST", _path(customer, sub["id"], "/transitions"), move, 400, 800002)
    assert "cancellation window" in body["description"]
    await _unchanged(pc, customer, standard)


async def test_an_existing_target_ending_before_the_source_is_refused(pc: PartnerClient) -> None:
    customer = (await pc.new_customer("early.onmicrosoft.com"))["id"]
    await pc.accept_mca(customer)
    standard = await _buy(pc, customer, catalog_item_id=STANDARD)
    await pc.advance("P8D")
    sub = await _buy(pc, customer)
    await pc.advance("P8D")
    move = _move(STANDARD, 2, toSubscriptionId=standard["id"])
    body = await pc.fail("POST", _path(customer, sub["id"], "/transitions"), move, 400, 800002)
    assert "on or after" in body["description"]
    await _unchanged(pc, customer, sub)


async def test_seats_join_an_existing_target_and_an_emptied_source_ends(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    standard = await _buy(pc, customer, catalog_item_id=STANDARD, quantity=3)
    await pc.advance("P8D")
    url = _path(customer, sub["id"], "/transitions")
    answer = await pc.ok("POST", url, _move(STANDARD, 2, toSubscriptionId=standard["id"]))
    assert answer["toSubscriptionId"] == standard["id"]
    target = await pc.ok("GET", _path(customer, standard["id"]))
    assert (target["quantity"], target["refundableQuantity"]["totalQuantity"]) == (5, 0)
    assert (await pc.ok("GET", _path(customer, sub["id"])))["quantity"] == 3
    await pc.ok("POST", url, _move(STANDARD, 3, toSubscriptionId=standard["id"]))
    assert (await pc.ok("GET", _path(customer, standard["id"])))["quantity"] == 8
    assert (await pc.ok("GET", _path(customer, sub["id"])))["status"] == "deleted"
    listed = await pc.ok("GET", _path(customer, standard["id"], "/transitions"))
    assert len(listed["transition"]) == 2


# -- trials ------------------------------------------------------------------------------------


async def _trial(pc: PartnerClient, domain: str = "trial.onmicrosoft.com") -> tuple[str, Any]:
    return await pc.customer_with_subscription(
        domain, catalog_item_id=TRIAL, quantity=25, term="P1M", cycle="none"
    )


async def test_a_trial_converted_mid_term_needs_25_seats(pc: PartnerClient) -> None:
    customer, trial = await _trial(pc)
    body = await pc.fail(
        "POST", _path(customer, trial["id"], "/transitions"), _move(BASIC, 10), 400, 800002
    )
    assert "at least 25 seats" in body["description"]
    after = await pc.ok("GET", _path(customer, trial["id"]))
    assert (after["isTrial"], after["offerId"]) == (True, TRIAL)


async def test_a_trial_converts_mid_term_to_its_paid_sku_keeping_its_id(
    pc: PartnerClient,
) -> None:
    customer, trial = await _trial(pc)
    await pc.advance("P10D")
    answer = await pc.ok("POST", _path(customer, trial["id"], "/transitions"), _move(BASIC, 30))
    assert answer["toSubscriptionId"] == trial["id"]
    after = await pc.ok("GET", _path(customer, trial["id"]))
    assert (after["isTrial"], after["offerId"], after["quantity"]) == (False, BASIC, 30)
    assert (after["termDuration"], after["billingCycle"]) == ("P1Y", "monthly")
    assert after["commitmentEndDate"] == "2027-01-14T00:00:00Z"
    assert after["cancellationAllowedUntilDate"] == "2026-01-22T09:00:00Z"


async def test_a_trial_converts_into_an_existing_subscription_and_ends(pc: PartnerClient) -> None:
    customer, trial = await _trial(pc)
    paid = await _buy(pc, customer, quantity=10)
    await pc.advance("P8D")
    move = _move(BASIC, 25, toSubscriptionId=paid["id"])
    await pc.ok("POST", _path(customer, trial["id"], "/transitions"), move)
    assert (await pc.ok("GET", _path(customer, paid["id"])))["quantity"] == 35
    assert (await pc.ok("GET", _path(customer, trial["id"])))["status"] == "deleted"


async def test_a_trial_cant_convert_into_a_subscription_ending_before_it(
    pc: PartnerClient,
) -> None:
    customer = (await pc.new_customer("trial2.onmicrosoft.com"))["id"]
    await pc.accept_mca(customer)
    monthly = await _buy(pc, customer, term="P1M")
    await pc.advance("P8D")
    trial = await _buy(pc, customer, catalog_item_id=TRIAL, quantity=25, term="P1M", cycle="none")
    move = _move(BASIC, 25, toSubscriptionId=monthly["id"])
    body = await pc.fail("POST", _path(customer, trial["id"], "/transitions"), move, 400, 800002)
    assert "on or after" in body["description"]
    assert (await pc.ok("GET", _path(customer, trial["id"])))["isTrial"] is True


async def test_a_mid_term_upgrade_removes_the_scheduled_changes(pc: PartnerClient) -> None:
    customer, sub = await pc.customer_with_subscription()
    scheduled = {
        "autoRenewEnabled": True,
        "scheduledNextTermInstructions": {
            "product": {
                "productId": "CFQ7TTC0LH18",
                "skuId": "0001",
                "availabilityId": "CFQ7TTC0K971",
                "termDuration": "P1Y",
                "billingCycle": "annual",
            },
            "quantity": 5,
        },
    }
    patched = await pc.ok("PATCH", _path(customer, sub["id"]), scheduled)
    assert "scheduledNextTermInstructions" in patched
    await pc.ok("POST", _path(customer, sub["id"], "/transitions"), _move(STANDARD, 2))
    after = await pc.ok("GET", _path(customer, sub["id"]))
    assert after.get("scheduledNextTermInstructions") is None
