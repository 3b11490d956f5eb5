"""Changes to an existing subscription: seats, cancel, suspend, resume, auto-renew, partner of
record (which first checks the new reseller like a purchase does), a change scheduled for the
renewal (and its removal), and a billing-cycle change from the next charge.

Each is one step: read the subscription (Partner Center's PATCH is full-replace, so the body
must carry the current auto-renew and instructions, or Microsoft silently clears them), refuse
what Microsoft's rules refuse — judged by Partner Center's own clock, the ``Date`` of its answer
— and otherwise PATCH. A PATCH sets absolute values, so running it again after a crash changes
nothing more; a re-run that finds the change already made succeeds rather than applying the rules
to the state its own first attempt produced (a cancel that landed is not "already deleted").
A first attempt that would change nothing still meets the rules: a cancel of a deleted or a
resume of an active subscription is refused, not reported as done. A 409 (renewal in progress)
waits Microsoft's two minutes and tries again (so does 409 / 900278, a cycle charge in progress,
when the billing cycle is read-only).

Scheduled changes follow the seed (``003_…``) as the simulator does: a cancel, a suspend,
auto-renew off or a seat change removes a saved scheduled change (Partner Center drops it even
though the PATCH carries it; the result's ``scheduledChange`` shows it gone); any other change
carries it and the pending billing cycle (``nextChargeInstructions``) so neither is lost.

A cancel or a seat reduction inside the window reports the refund on its result
(``gateway.money``: prorated by day, full on the first day). LIMITATIONS: a re-run that finds
its PATCH already landed (a crash between the PATCH and the journal) reports no refund.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from gateway import messages, money
from gateway.catalog import Catalog, LineRefused
from gateway.journal import Operation
from gateway.upstream import PartnerCenterError, Reply
from gateway.workflows.engine import Done, Fail, Outcome, Plan, StepContext, writes

#: Legacy CSP subscriptions (before NCE): no 168-hour windows; they are suspended, not cancelled.
LEGACY_PRODUCT_TYPE = "OnlineServices"

KINDS = (
    "change_seats", "cancel", "suspend", "resume", "auto_renew", "change_partner_of_record",
    "schedule_change", "cancel_scheduled_change", "change_billing_cycle",
)  # fmt: skip
#: The fields a change may touch; a PATCH that would leave them all as they are is not sent.
CHANGED = ("quantity", "status", "autoRenewEnabled", "partnerId", "scheduledNextTermInstructions")
SCHEDULED = "scheduledNextTermInstructions"
NEXT_CHARGE = "nextChargeInstructions"


def plan(op: Operation) -> Plan:
    if op.kind == "change_partner_of_record":
        return [
            ("check_reseller", check_new_reseller),
            ("update_subscription", update_subscription),
        ]
    if op.kind == "schedule_change":
        return [("resolve_offer", resolve_offer), ("update_subscription", update_subscription)]
    return [("update_subscription", update_subscription)]


async def resolve_offer(ctx: StepContext) -> Outcome:
    """The offer, term and billing a scheduled change names, checked against the catalog."""
    fields = ("planCode", "catalogItemId", "termDuration", "billingCycle", "quantity")
    asked: dict[str, Any] = {k: ctx.request[k] for k in fields if k in ctx.request}
    try:
        found = await Catalog(ctx.pc, ctx.caches.catalog).resolve(
            asked, 0, ctx.settings.catalog_country
        )
    except LineRefused as exc:
        return Fail(exc.message.replace("lines[0].", "").replace("lines[0]", "the change"),
                    reason=exc.code)  # fmt: skip
    return Done({"offer": found})


async def check_new_reseller(ctx: StepContext) -> Outcome:
    from gateway.workflows.purchase import reseller_status  # purchase imports this module's peers

    found = await reseller_status(ctx, ctx.request["mpnId"])
    if not isinstance(found, dict):
        return found
    return Done({"resellerTenantId": found["tenantId"], "resellerName": found["name"]})


def _path(request: dict[str, Any]) -> str:
    return f"/v1/customers/{request['customerId']}/subscriptions/{request['subscriptionId']}"


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def refusal(kind: str, request: dict[str, Any], sub: dict[str, Any], now: datetime) -> str | None:
    """Why Microsoft would refuse this change, when the subscription as read already says so."""
    status = sub.get("status")
    if status == "deleted":
        return messages.for_reason("subscription_deleted")
    if status in ("expired", "disabled"):
        return messages.for_reason("subscription_ended", status=status)
    if sub.get("isTrial") and kind in ("change_seats", "cancel", "suspend", "resume"):
        return messages.for_reason("trial")
    legacy = (sub.get("productType") or {}).get("id") == LEGACY_PRODUCT_TYPE
    if kind == "cancel" and legacy:
        return messages.for_reason("legacy_cancel")
    if kind == "cancel":
        until = _instant(sub.get("cancellationAllowedUntilDate"))
        if until is None or now > until:
            return messages.for_reason("window_closed", window_closed=messages.when(until))
    elif kind == "change_seats":
        quantity = int(request["quantity"])
        if status == "suspended":
            return messages.for_reason("subscription_suspended")
        if legacy:
            return None  # legacy seats go up or down at any time: no 168-hour windows
        current = int(sub.get("quantity", 0))
        reducible = int((sub.get("refundableQuantity") or {}).get("totalQuantity", 0))
        floor = current - reducible
        if quantity < floor:
            return messages.for_reason("seats_below_floor", floor=floor, quantity=quantity)
    elif kind == "resume" and status != "suspended":
        return messages.for_reason("not_suspended", status=status)
    elif kind == "suspend" and status == "suspended":
        return messages.for_reason("already_suspended")
    elif kind in ("auto_renew", "change_partner_of_record") and status == "suspended":
        return messages.for_reason("subscription_suspended")
    elif kind == "schedule_change" and (status != "active" or not sub.get("autoRenewEnabled")):
        return messages.for_reason("scheduled_change_needs_auto_renew", status=status)
    elif kind == "cancel_scheduled_change" and not sub.get(SCHEDULED):
        return messages.for_reason("nothing_scheduled")
    elif kind == "change_billing_cycle":
        return _billing_refusal(request, sub)
    return None


def _billing_refusal(request: dict[str, Any], sub: dict[str, Any]) -> str | None:
    if sub.get("isTrial"):
        return messages.for_reason("billing_cycle_trial")
    if sub.get("status") != "active":
        return messages.for_reason("billing_cycle_not_active", status=sub.get("status"))
    return None


def pending_cycle(sub: dict[str, Any]) -> str | None:
    """The billing cycle the subscription will have from its next charge."""
    charge = sub.get(NEXT_CHARGE) or {}
    return (charge.get("product") or {}).get("billingCycle") or sub.get("billingCycle")


def _next_term(request: dict[str, Any], offer: dict[str, Any]) -> dict[str, Any]:
    product_id, sku_id, availability_id = offer["catalogItemId"].split(":")
    return {
        "product": {"productId": product_id, "skuId": sku_id, "availabilityId": availability_id,
                    "termDuration": offer["termDuration"], "billingCycle": offer["billingCycle"]},
        "quantity": request["quantity"],
    }  # fmt: skip


def patched(kind: str, request: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    """The full subscription with the one change applied (Microsoft's PATCH replaces whole)."""
    body = {k: v for k, v in sub.items() if k not in ("links", "attributes")}
    # Full-replace: what is not sent is cleared, so the saved scheduled change and the pending
    # billing cycle go back exactly as read (Partner Center itself drops the scheduled change on
    # a cancel, a suspend, auto-renew off or a seat change).
    for kept in (SCHEDULED, NEXT_CHARGE):
        if sub.get(kept) is not None:
            body[kept] = sub[kept]
    if kind == "change_seats":
        body["quantity"] = request["quantity"]
    elif kind == "cancel":
        body["status"] = "deleted"
    elif kind == "suspend":
        body["status"] = "suspended"
    elif kind == "resume":
        body["status"] = "active"
    elif kind == "auto_renew":
        body["autoRenewEnabled"] = request["enabled"]
    elif kind == "change_partner_of_record":
        body["partnerId"] = request["mpnId"]
    elif kind == "schedule_change":
        body[SCHEDULED] = _next_term(request, request["offer"])
    elif kind == "cancel_scheduled_change":
        body.pop(SCHEDULED, None)
    elif kind == "change_billing_cycle" and request["billingCycle"] == sub.get("billingCycle"):
        body.pop(NEXT_CHARGE, None)  # back to the cycle in force: drop the pending change
    elif kind == "change_billing_cycle":
        body["billingCycle"] = request["billingCycle"]
    return body


def unchanged(kind: str, request: dict[str, Any], current: dict[str, Any],
              target: dict[str, Any]) -> bool:  # fmt: skip
    if kind == "change_billing_cycle":
        return bool(pending_cycle(current) == request["billingCycle"])
    return all(current.get(k) == target.get(k) for k in CHANGED)


def view(sub: dict[str, Any]) -> dict[str, Any]:
    return {
        "subscriptionId": sub.get("id"),
        "status": sub.get("status"),
        "quantity": sub.get("quantity"),
        "autoRenewEnabled": sub.get("autoRenewEnabled"),
        "resellerMpnId": sub.get("partnerId") or None,
        "billingCycle": sub.get("billingCycle"),
        "billingCycleFromNextCharge": pending_cycle(sub) if sub.get(NEXT_CHARGE) else None,
        "scheduledChange": sub.get(SCHEDULED),
    }


def upstream_now(reply: Reply, fallback: datetime) -> datetime:
    """Partner Center's time: the ``Date`` of its answer (the simulator's moves with its clock)."""
    try:
        return parsedate_to_datetime(reply.headers["Date"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return fallback


async def seats_outside_range(ctx: StepContext, sub: dict[str, Any], quantity: int) -> str | None:
    """Why the offer's seat range refuses ``quantity``; ``None`` when it fits or the catalog no
    longer lists the offer (then Microsoft's answer decides)."""
    offer = await Catalog(ctx.pc, ctx.caches.catalog).offer(
        str(sub.get("offerId", "")), ctx.settings.catalog_country
    )
    if offer is None or offer.minimum <= quantity <= offer.maximum:
        return None
    return messages.for_reason("seats_out_of_range", quantity=quantity,
                               minimum=offer.minimum, maximum=offer.maximum)  # fmt: skip


async def refund_for(
    ctx: StepContext, current: dict[str, Any], now: datetime
) -> dict[str, Any] | None:
    """The refund a cancel or a seat reduction earns (``gateway.money``), or ``None``."""
    if ctx.op.kind == "cancel":
        seats = int(current.get("quantity", 0))
    elif ctx.op.kind == "change_seats":
        seats = int(current.get("quantity", 0)) - int(ctx.request["quantity"])
    else:
        return None
    if seats <= 0 or (current.get("productType") or {}).get("id") == LEGACY_PRODUCT_TYPE:
        return None  # legacy seats have no window and no prorated refund
    priced = await money.unit_price(ctx.pc, ctx.request["customerId"], current)
    if priced is None:
        return None
    return money.refund(current, seats, priced[0], priced[1], now)


async def _landed(
    ctx: StepContext, exc: PartnerCenterError, request: dict[str, Any]
) -> dict[str, Any] | None:
    """The subscription, when a refused PATCH finds the change already made: the adapter
    retries a PATCH whose answer was lost, and Partner Center may refuse the retry because the
    first try landed (a cancel that went through is ``deleted``: 400 / 2011). The same test as a
    re-run's (the change would change nothing now). ``None``: a real refusal."""
    if exc.status == 409 or exc.retryable:
        return None
    fresh: dict[str, Any] = (await ctx.pc.call("GET", _path(ctx.request))).body
    kind = ctx.op.kind
    return fresh if unchanged(kind, request, fresh, patched(kind, request, fresh)) else None


@writes
async def update_subscription(ctx: StepContext) -> Outcome:
    reply = await ctx.pc.call("GET", _path(ctx.request))
    current = reply.body
    request = {**ctx.request, **ctx.outputs.get("resolve_offer", {})}
    target = patched(ctx.op.kind, request, current)
    same = unchanged(ctx.op.kind, request, current, target)
    if same and ctx.step.attempts > 1:  # an earlier attempt's PATCH may have landed
        return Done({"after": view(current)}, result=view(current))
    now = upstream_now(reply, ctx.now)
    reason = refusal(ctx.op.kind, request, current, now)
    if reason is not None:
        return Fail(reason, reason="rule")
    if same:
        return Done({"after": view(current)}, result=view(current))
    if ctx.op.kind == "change_seats":
        reason = await seats_outside_range(ctx, current, int(ctx.request["quantity"]))
        if reason is not None:
            return Fail(reason, reason="rule")
    refund = await refund_for(ctx, current, now)
    try:
        updated = await ctx.call("PATCH", _path(ctx.request), body=target)
    except PartnerCenterError as exc:
        landed = await _landed(ctx, exc, request)
        if landed is None:
            raise
        updated = landed
    result = view(updated) if refund is None else {**view(updated), "refund": refund}
    return Done({"after": view(updated)}, result=result)
