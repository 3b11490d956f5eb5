"""What time does to a subscription, driven by ``POST /_sim/clock/advance``: the 168-hour window
closing, renewals (start instant, the 409s while in progress, the new term and window), expiry with
auto-renew off and its disabled/deleted chain, and perpetual software that never renews."""

from __future__ import annotations

from typing import Any

from tests.simulator.conftest import PartnerClient, line

PERPETUAL = "DG7GMGF0D5RK:0002:DG7GMGF0PWSS"
# Bought 2026-01-05T09:00Z for P1Y: the term ends 2027-01-04 (inclusive).
TERM_OVER = "2027-01-05T00:00:00Z"


def path(customer_id: str, sub_id: str) -> str:
    return f"/v1/customers/{customer_id}/subscriptions/{sub_id}"


def uri(customer_id: str, sub_id: str) -> str:
    return f"/customers/{customer_id}/subscriptions/{sub_id}"


async def advance_to(pc: PartnerClient, when: str) -> list[dict[str, Any]]:
    answer = await pc.sim("POST", "/clock/advance", {"to": when})
    assert answer["now"] == when
    return list(answer["events"])


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


async def turn_auto_renew_off(pc: PartnerClient, customer_id: str, sub: dict[str, Any]) -> None:
    answer = await pc.ok("PATCH", path(customer_id, sub["id"]), {**sub, "autoRenewEnabled": False})
    assert answer["autoRenewEnabled"] is False


# -- the cancellation window -----------------------------------------------------------------------


async def test_the_window_closes_168_hours_after_purchase_with_an_event(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    assert of_type(await pc.advance("PT167H"), "cancellationWindowClosed") == []
    events = await pc.advance("P2D")
    assert of_type(events, "cancellationWindowClosed") == [
        {
            "type": "cancellationWindowClosed",
            "at": "2026-01-12T09:00:00Z",
            "resourceUri": uri(customer_id, sub["id"]),
        }
    ]
    current = await pc.ok("GET", path(customer_id, sub["id"]))
    assert current["refundOptions"] == []
    assert current["refundableQuantity"] == {"totalQuantity": 0, "details": []}


async def test_a_cancelled_subscription_has_no_further_events(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.ok("PATCH", path(customer_id, sub["id"]), {**sub, "status": "deleted"})
    assert await advance_to(pc, "2027-03-01T00:00:00Z") == []
    assert (await pc.ok("GET", path(customer_id, sub["id"])))["status"] == "deleted"


# -- renewal -----------------------------------------------------------------------------------------


async def test_renewal_starts_at_midnight_after_the_commitment_end_date(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    assert sub["commitmentEndDate"] == "2027-01-04T00:00:00Z"
    before = await advance_to(pc, "2027-01-04T23:59:59Z")
    assert of_type(before, "renewalStarted") == []
    at_midnight = await advance_to(pc, TERM_OVER)
    assert at_midnight == [
        {"type": "renewalStarted", "at": TERM_OVER, "resourceUri": uri(customer_id, sub["id"])}
    ]


async def test_changes_during_a_renewal_get_409_800082_and_change_nothing(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await advance_to(pc, "2027-01-05T03:00:00Z")
    current = await pc.ok("GET", path(customer_id, sub["id"]))
    blocked = [
        {"quantity": 6},
        {"friendlyName": "Renamed"},
        {"partnerId": ""},
        {"status": "deleted"},
        {"autoRenewEnabled": False},
        {"status": "suspended"},
    ]
    for change in blocked:
        body = await pc.fail(
            "PATCH", path(customer_id, sub["id"]), {**current, **change}, 409, 800082
        )
        assert body["description"]
    assert await pc.ok("GET", path(customer_id, sub["id"])) == current


async def test_renewal_completes_with_a_new_term_and_a_new_window_from_completion(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    events = await advance_to(pc, "2027-01-05T12:00:00Z")
    completed = of_type(events, "renewalCompleted")
    assert [e["at"] for e in completed] == ["2027-01-05T06:00:00Z"]
    renewed = await pc.ok("GET", path(customer_id, sub["id"]))
    assert renewed["status"] == "active"
    assert renewed["autoRenewEnabled"] is True
    assert renewed["commitmentEndDate"] == "2028-01-04T00:00:00Z"
    assert renewed["commitmentEndDateTime"] == "2028-01-04T23:59:59Z"
    assert renewed["cancellationAllowedUntilDate"] == "2027-01-12T06:00:00Z"
    assert renewed["refundableQuantity"] == {
        "totalQuantity": 5,
        "details": [{"quantity": 5, "allowedUntilDateTime": "2027-01-12T06:00:00Z"}],
    }
    fewer = await pc.ok("PATCH", path(customer_id, sub["id"]), {**renewed, "quantity": 2})
    assert fewer["quantity"] == 2
    cancelled = await pc.ok("PATCH", path(customer_id, sub["id"]), {**fewer, "status": "deleted"})
    assert cancelled["status"] == "deleted"


async def test_the_renewed_window_closes_168_hours_after_completion(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    events = await advance_to(pc, "2027-01-13T00:00:00Z")
    closed = of_type(events, "cancellationWindowClosed")
    assert [e["at"] for e in closed] == ["2026-01-12T09:00:00Z", "2027-01-12T06:00:00Z"]
    current = await pc.ok("GET", path(customer_id, sub["id"]))
    cancel = {**current, "status": "deleted"}
    await pc.fail("PATCH", path(customer_id, sub["id"]), cancel, 400, 900213)


async def test_renewal_processing_duration_comes_from_config(pc: PartnerClient) -> None:
    config = await pc.sim("PUT", "/config", {"renewalProcessing": "PT1H"})
    assert config["renewalProcessing"] == "PT1H"
    customer_id, sub = await pc.customer_with_subscription()
    events = await advance_to(pc, "2027-01-05T02:00:00Z")
    assert [e["at"] for e in of_type(events, "renewalCompleted")] == ["2027-01-05T01:00:00Z"]
    renewed = await pc.ok("GET", path(customer_id, sub["id"]))
    assert renewed["cancellationAllowedUntilDate"] == "2027-01-12T01:00:00Z"


async def test_a_monthly_term_renews_every_month(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription(term="P1M")
    events = await advance_to(pc, "2026-05-06T00:00:00Z")
    assert [e["at"] for e in of_type(events, "renewalStarted")] == [
        "2026-02-05T00:00:00Z",
        "2026-03-05T00:00:00Z",
        "2026-04-05T00:00:00Z",
        "2026-05-05T00:00:00Z",
    ]
    assert len(of_type(events, "renewalCompleted")) == 4
    current = await pc.ok("GET", path(customer_id, sub["id"]))
    assert current["commitmentEndDate"] == "2026-06-04T00:00:00Z"
    assert current["status"] == "active"


async def test_events_come_in_time_order_across_subscriptions(pc: PartnerClient) -> None:
    customer_id, yearly = await pc.customer_with_subscription()
    monthly = await pc.buy(customer_id, [line(term="P1M")])
    monthly_id = monthly["orders"][0]["lineItems"][0]["subscriptionId"]
    events = await advance_to(pc, "2027-02-01T00:00:00Z")
    times = [e["at"] for e in events]
    assert times == sorted(times)
    assert {e["resourceUri"] for e in events} == {
        uri(customer_id, yearly["id"]),
        uri(customer_id, monthly_id),
    }
    assert len(of_type(events, "renewalStarted")) == 12 + 1


# -- expiry --------------------------------------------------------------------------------------------


async def test_auto_renew_off_expires_at_midnight_then_refuses_every_patch_900279(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await turn_auto_renew_off(pc, customer_id, sub)
    events = await advance_to(pc, "2027-01-06T00:00:00Z")
    assert of_type(events, "renewalStarted") == []
    assert of_type(events, "subscriptionExpired") == [
        {"type": "subscriptionExpired", "at": TERM_OVER, "resourceUri": uri(customer_id, sub["id"])}
    ]
    expired = await pc.ok("GET", path(customer_id, sub["id"]))
    assert expired["status"] == "expired"
    assert expired["commitmentEndDate"] == "2027-01-04T00:00:00Z"
    for change in ({"autoRenewEnabled": True}, {"status": "active"}, {"quantity": 6}, {}):
        await pc.fail("PATCH", path(customer_id, sub["id"]), {**expired, **change}, 400, 900279)
    assert await pc.ok("GET", path(customer_id, sub["id"])) == expired


async def test_expired_turns_disabled_after_30_days_and_deleted_90_days_later(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await turn_auto_renew_off(pc, customer_id, sub)
    events = await advance_to(pc, "2027-06-01T00:00:00Z")
    chain = [
        (e["type"], e["at"])
        for e in events
        if e["type"] in ("subscriptionExpired", "subscriptionDisabled", "subscriptionDeleted")
    ]
    assert chain == [
        ("subscriptionExpired", "2027-01-05T00:00:00Z"),
        ("subscriptionDisabled", "2027-02-04T00:00:00Z"),
        ("subscriptionDeleted", "2027-05-05T00:00:00Z"),
    ]
    assert (await pc.ok("GET", path(customer_id, sub["id"])))["status"] == "deleted"


async def test_disabled_is_visible_between_the_steps(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await turn_auto_renew_off(pc, customer_id, sub)
    await advance_to(pc, "2027-02-04T00:00:00Z")
    disabled = await pc.ok("GET", path(customer_id, sub["id"]))
    assert disabled["status"] == "disabled"
    await pc.fail("PATCH", path(customer_id, sub["id"]), disabled, 400, 900279)


async def test_a_subscription_suspended_at_term_end_expires(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await pc.ok("PATCH", path(customer_id, sub["id"]), {**sub, "status": "suspended"})
    events = await advance_to(pc, "2027-01-05T01:00:00Z")
    assert [e["type"] for e in events if e["at"] == TERM_OVER] == ["subscriptionExpired"]
    assert (await pc.ok("GET", path(customer_id, sub["id"])))["status"] == "expired"


async def test_turning_auto_renew_back_on_before_term_end_renews(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    await turn_auto_renew_off(pc, customer_id, sub)
    await advance_to(pc, "2026-12-01T00:00:00Z")
    current = await pc.ok("GET", path(customer_id, sub["id"]))
    await pc.ok("PATCH", path(customer_id, sub["id"]), {**current, "autoRenewEnabled": True})
    events = await advance_to(pc, "2027-01-06T00:00:00Z")
    assert [e["type"] for e in events] == ["renewalStarted", "renewalCompleted"]


# -- perpetual software ----------------------------------------------------------------------------


async def test_perpetual_software_never_renews_and_refuses_auto_renew_800093(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription(
        catalog_item_id=PERPETUAL, term=None, cycle="one_time", quantity=2
    )
    assert sub["billingCycle"] == "one_time"
    assert sub["autoRenewEnabled"] is False
    assert sub["productType"]["id"] == "Software"
    events = await advance_to(pc, "2028-01-05T09:00:00Z")
    assert [e for e in events if e["type"].startswith(("renewal", "subscription"))] == []
    current = await pc.ok("GET", path(customer_id, sub["id"]))
    assert current["status"] == "active"
    assert current["autoRenewEnabled"] is False
    await pc.fail(
        "PATCH", path(customer_id, sub["id"]), {**current, "autoRenewEnabled": True}, 400, 800093
    )
    assert await pc.ok("GET", path(customer_id, sub["id"])) == current


# -- trials ----------------------------------------------------------------------------------------

TRIAL = "CFQ7TTC0LH18:0004:CFQ7TTC0K9T1"


async def test_a_trial_converts_at_its_renewal_to_the_paid_offer_with_the_same_id(
    pc: PartnerClient,
) -> None:
    customer_id, trial = await pc.customer_with_subscription(
        catalog_item_id=TRIAL, quantity=25, term="P1M", cycle="none"
    )
    assert trial["isTrial"] is True
    assert trial["commitmentEndDate"] == "2026-02-04T00:00:00Z"
    events = await advance_to(pc, "2026-02-06T00:00:00Z")
    mine = [(e["type"], e["at"]) for e in events if e["type"] != "cancellationWindowClosed"]
    assert mine == [
        ("renewalStarted", "2026-02-05T00:00:00Z"),
        ("trialConverted", "2026-02-05T06:00:00Z"),
    ]
    paid = await pc.ok("GET", path(customer_id, trial["id"]))
    assert paid["isTrial"] is False
    assert paid["offerId"] == "CFQ7TTC0LH18:0001:CFQ7TTC0K971"
    assert (paid["termDuration"], paid["billingCycle"]) == ("P1Y", "monthly")
    assert paid["quantity"] == 25
    assert paid["commitmentEndDate"] == "2027-02-04T00:00:00Z"
    assert paid["cancellationAllowedUntilDate"] == "2026-02-12T06:00:00Z"
    fewer = await pc.ok("PATCH", path(customer_id, trial["id"]), {**paid, "quantity": 10})
    assert fewer["quantity"] == 10


async def test_a_trial_with_auto_renew_off_expires_instead_of_converting(
    pc: PartnerClient,
) -> None:
    customer_id, trial = await pc.customer_with_subscription(
        catalog_item_id=TRIAL, quantity=25, term="P1M", cycle="none"
    )
    await turn_auto_renew_off(pc, customer_id, trial)
    events = await advance_to(pc, "2026-02-06T00:00:00Z")
    assert "trialConverted" not in [e["type"] for e in events]
    expired = await pc.ok("GET", path(customer_id, trial["id"]))
    assert expired["status"] == "expired"
    assert expired["isTrial"] is True
