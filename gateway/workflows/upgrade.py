"""Upgrades (NCE transitions) as one operation: check eligibility, then transition.

check_eligibility → transition

The first step reads the subscription and Microsoft's ``transitionEligibilities`` for it, so
what Partner Center would refuse (a subscription that is not active, an offer that is not one of
its upgrade targets — no downgrades —, a target subscription in its cancellation window, with a
shorter term or ending earlier, a trial converted with fewer than 25 seats) fails with a sentence
saying what to do, before anything is written. The transition is one POST carrying the step's
``MS-RequestId``: a retry after a crash replays Microsoft's first answer instead of upgrading
twice. Whatever the eligibility read could not see (e.g. 900260 / 900267 for a trial's target)
fails with Microsoft's code kept.
"""

from __future__ import annotations

from typing import Any

from gateway import messages
from gateway.journal import Operation
from gateway.upstream import PartnerCenterError
from gateway.workflows.engine import Done, Fail, Outcome, Plan, StepContext, writes

KINDS: tuple[str, ...] = ("upgrade",)
TRIAL_MINIMUM = 25


def plan(op: Operation) -> Plan:
    if op.kind not in KINDS:
        raise ValueError(f"no upgrade workflow for {op.kind!r}")
    return [("check_eligibility", check_eligibility), ("transition", transition)]


def _path(request: dict[str, Any]) -> str:
    return f"/v1/customers/{request['customerId']}/subscriptions/{request['subscriptionId']}"


def _errors(errors: list[dict[str, Any]]) -> str:
    return "; ".join(str(e.get("description") or e.get("code")) for e in errors) or "not eligible"


async def check_eligibility(ctx: StepContext) -> Outcome:
    request = ctx.request
    ids = {"subscription_id": request["subscriptionId"], "customer_id": request["customerId"]}
    try:
        sub = (await ctx.pc.call("GET", _path(request))).body
    except PartnerCenterError as exc:
        if exc.status in (403, 404):
            return Fail(messages.for_reason("upgrade_not_found", **ids), upstream=exc,
                        reason="upgrade_not_found")  # fmt: skip
        raise
    if sub.get("status") != "active":
        return Fail(messages.for_reason("upgrade_not_active", status=sub.get("status"), **ids),
                    reason="upgrade_not_active")  # fmt: skip
    refused = _seats_refused(request, sub)
    if refused is not None:
        return refused
    found = await ctx.pc.call("GET", _path(request) + "/transitionEligibilities",
                              params={"eligibilityType": "immediate"})  # fmt: skip
    offer = request["offer"]
    item = next((i for i in found.body.get("items", [])
                 if str(i.get("catalogItemId", "")).upper() == offer["catalogItemId"].upper()),
                None)  # fmt: skip
    if item is None:
        targets = ", ".join(str(i.get("title")) for i in found.body.get("items", [])) or "none"
        return Fail(messages.for_reason("upgrade_not_a_target", title=offer.get("title"),
                                        offer_name=sub.get("offerName"), targets=targets),
                    reason="upgrade_not_a_target")  # fmt: skip
    refused = _ineligible(request, item)
    if refused is not None:
        return refused
    quantity = int(request.get("quantity") or sub.get("quantity", 0))
    return Done({"quantity": quantity, "fromCatalogItemId": sub.get("offerId"),
                 "isTrial": bool(sub.get("isTrial"))})  # fmt: skip


def _seats_refused(request: dict[str, Any], sub: dict[str, Any]) -> Fail | None:
    quantity = request.get("quantity")
    seats = int(sub.get("quantity", 0))
    if sub.get("isTrial") and quantity is not None and quantity < TRIAL_MINIMUM:
        return Fail(messages.for_reason("upgrade_trial_seats", quantity=quantity,
                                        minimum=TRIAL_MINIMUM),
                    reason="upgrade_trial_seats")  # fmt: skip
    if not sub.get("isTrial") and quantity is not None and quantity > seats:
        return Fail(messages.for_reason("upgrade_too_many_seats", quantity=quantity, seats=seats,
                                        subscription_id=request["subscriptionId"]),
                    reason="upgrade_too_many_seats")  # fmt: skip
    return None


def _ineligible(request: dict[str, Any], item: dict[str, Any]) -> Fail | None:
    kind = request.get("transitionType", "transition_with_license_transfer")
    detail = next((e for e in item.get("eligibilities", []) if e.get("transitionType") == kind),
                  None)  # fmt: skip
    if detail is not None and not detail.get("isEligible", True):
        return Fail(messages.for_reason("upgrade_not_eligible", title=item.get("title"),
                                        errors=_errors(detail.get("errors", []))),
                    reason="upgrade_not_eligible")  # fmt: skip
    target_id = request.get("toSubscriptionId")
    target = next((s for s in item.get("subscriptionEligibilities", [])
                   if str(s.get("subscriptionId", "")).lower() == str(target_id).lower()),
                  None)  # fmt: skip
    if target_id and target is not None and not target.get("isEligible", True):
        return Fail(messages.for_reason("upgrade_target_not_eligible", target_id=target_id,
                                        errors=_errors(target.get("errors", []))),
                    reason="upgrade_target_not_eligible")  # fmt: skip
    return None


@writes
async def transition(ctx: StepContext) -> Outcome:
    request, offer = ctx.request, ctx.request["offer"]
    checked = ctx.outputs["check_eligibility"]
    body: dict[str, Any] = {
        "fromSubscriptionId": request["subscriptionId"],
        "fromCatalogItemId": checked["fromCatalogItemId"],
        "toCatalogItemId": offer["catalogItemId"],
        "quantity": checked["quantity"],
        "transitionType": request.get("transitionType", "transition_with_license_transfer"),
        "termDuration": offer["termDuration"],
        "billingCycle": offer["billingCycle"],
    }
    if request.get("toSubscriptionId"):
        body["toSubscriptionId"] = request["toSubscriptionId"]
    answer = await ctx.call("POST", _path(request) + "/transitions", body=body)
    upgraded = answer.get("toSubscriptionId") or request["subscriptionId"]
    ids = list(dict.fromkeys([request["subscriptionId"], upgraded]))
    return Done(
        {"transitionId": answer.get("operationId"), "toSubscriptionId": upgraded},
        result={"subscriptionIds": ids, "sourceSubscriptionId": request["subscriptionId"],
                "upgradedSubscriptionId": upgraded, "quantity": checked["quantity"],
                "offer": offer.get("title"), "transitionId": answer.get("operationId")},
    )  # fmt: skip
