"""Changes to an existing subscription: seats, cancel, suspend, resume, auto-renew, partner of
record (which first checks the new reseller like a purchase does).

Each is one step: read the subscription (Partner Center's PATCH is full-replace, so the body
must carry the current auto-renew and instructions, or Microsoft silently clears them), refuse
what Microsoft's rules refuse — judged by Partner Center's own clock, the ``Date`` of its answer
— and otherwise PATCH. A PATCH sets absolute values, so running it again after a crash changes
nothing more; a re-run that finds the change already made succeeds rather than applying the rules
to the state its own first attempt produced (a cancel that landed is not "already deleted").
A first attempt that would change nothing still meets the rules: a cancel of a deleted or a
resume of an active subscription is refused, not reported as done. A 409 (renewal in progress)
waits Microsoft's two minutes and tries again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from gateway import messages
from gateway.catalog import Catalog
from gateway.journal import Operation
from gateway.upstream import Reply
from gateway.workflows.engine import Done, Fail, Outcome, Plan, StepContext, writes

#: Legacy CSP subscriptions (before NCE): no 168-hour windows; they are suspended, not cancelled.
LEGACY_PRODUCT_TYPE = "OnlineServices"

KINDS = ("change_seats", "cancel", "suspend", "resume", "auto_renew", "change_partner_of_record")
#: The fields a change may touch; a PATCH that would leave them all as they are is not sent.
CHANGED = ("quantity", "status", "autoRenewEnabled", "partnerId")


def plan(op: Operation) -> Plan:
    if op.kind == "change_partner_of_record":
        return [
            ("check_reseller", check_new_reseller),
            ("update_subscription", update_subscription),
        ]
    return [("update_subscription", update_subscription)]


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
    return None


def patched(kind: str, request: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    """The full subscription with the one change applied (Microsoft's PATCH replaces whole)."""
    body = {k: v for k, v in sub.items() if k not in ("links", "attributes")}
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
    return body


def view(sub: dict[str, Any]) -> dict[str, Any]:
    return {
        "subscriptionId": sub.get("id"),
        "status": sub.get("status"),
        "quantity": sub.get("quantity"),
        "autoRenewEnabled": sub.get("autoRenewEnabled"),
        "resellerMpnId": sub.get("partnerId") or None,
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


@writes
async def update_subscription(ctx: StepContext) -> Outcome:
    reply = await ctx.pc.call("GET", _path(ctx.request))
    current = reply.body
    target = patched(ctx.op.kind, ctx.request, current)
    unchanged = all(current.get(k) == target.get(k) for k in CHANGED)
    if unchanged and ctx.step.attempts > 1:  # an earlier attempt's PATCH may have landed
        return Done({"after": view(current)}, result=view(current))
    reason = refusal(ctx.op.kind, ctx.request, current, upstream_now(reply, ctx.now))
    if reason is not None:
        return Fail(reason, reason="rule")
    if unchanged:
        return Done({"after": view(current)}, result=view(current))
    if ctx.op.kind == "change_seats":
        reason = await seats_outside_range(ctx, current, int(ctx.request["quantity"]))
        if reason is not None:
            return Fail(reason, reason="rule")
    updated = await ctx.call("PATCH", _path(ctx.request), body=target)
    return Done({"after": view(updated)}, result=view(updated))
