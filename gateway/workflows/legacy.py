"""Legacy CSP to NCE moves as one operation: buy the NCE subscription, then end the legacy one.

read_legacy → check_reseller → create_cart → checkout → await_provisioning → suspend_legacy

The order is the safety: the legacy subscription is only touched once the NCE subscription is
provisioned, so a purchase that fails (no MCA, a reseller that is not related, an order in
error) leaves the legacy subscription exactly as it was, and the customer is never left with
neither; for a moment it may have both. Legacy subscriptions are ended by suspending them (they
cannot be deleted; Microsoft deletes them 90 days later and does not bill them meanwhile).

Once the NCE subscription exists, the suspend is retried until it lands: a 409, a 429, a 5xx or
no answer waits with back-off, never failing the operation; only a refusal Microsoft would repeat
(a 4xx) fails it, with a sentence saying the NCE subscription exists and the legacy one must be
suspended by hand. The cart, checkout and provisioning steps are purchase.py's, pointed at the
legacy subscription's customer and the resolved NCE offer.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway import messages
from gateway.catalog import Catalog
from gateway.journal import Operation
from gateway.upstream import PartnerCenterError, UpstreamError
from gateway.workflows import purchase
from gateway.workflows.engine import Done, Fail, Outcome, Plan, StepContext, Wait, writes
from gateway.workflows.subscription import patched

KINDS: tuple[str, ...] = ("legacy_move",)
LEGACY_PRODUCT_TYPE = "OnlineServices"
ENDED = ("deleted", "expired", "disabled")


def plan(op: Operation) -> Plan:
    if op.kind not in KINDS:
        raise ValueError(f"no legacy workflow for {op.kind!r}")
    return [
        ("read_legacy", read_legacy),
        ("check_reseller", check_reseller),
        ("create_cart", create_cart),
        ("checkout", checkout),
        ("await_provisioning", await_provisioning),
        ("suspend_legacy", suspend_legacy),
    ]


def _path(request: dict[str, Any]) -> str:
    return f"/v1/customers/{request['customerId']}/subscriptions/{request['subscriptionId']}"


def is_legacy(sub: dict[str, Any]) -> bool:
    """Legacy license offers are GUIDs under ``OnlineServices``; NCE ones are
    ``product:sku:availability`` under ``OnlineServicesNCE``."""
    product_type = (sub.get("productType") or {}).get("id")
    return product_type == LEGACY_PRODUCT_TYPE and ":" not in str(sub.get("offerId", ""))


# -- the legacy subscription -----------------------------------------------------------------


async def read_legacy(ctx: StepContext) -> Outcome:
    request = ctx.request
    ids = {"customer_id": request["customerId"], "subscription_id": request["subscriptionId"]}
    try:
        sub = (await ctx.pc.call("GET", _path(request))).body
    except PartnerCenterError as exc:
        if exc.status in (403, 404):
            return Fail(messages.for_reason("legacy_not_found", **ids), upstream=exc,
                        reason="legacy_not_found")  # fmt: skip
        raise
    if not is_legacy(sub):
        return Fail(messages.for_reason("legacy_not_legacy", offer_id=sub.get("offerId"), **ids),
                    reason="legacy_not_legacy")  # fmt: skip
    if sub.get("status") != "active":
        return Fail(messages.for_reason("legacy_not_active", status=sub.get("status"), **ids),
                    reason="legacy_not_active")  # fmt: skip
    quantity = int(request.get("quantity") or sub.get("quantity", 0))
    if request.get("quantity") is None:  # the API checked a quantity it was given
        refused = await _seats_refused(ctx, quantity)
        if refused is not None:
            return refused
    return Done(
        {"quantity": quantity, "legacyQuantity": sub.get("quantity"),
         "offerId": sub.get("offerId"), "offerName": sub.get("offerName")},
        result={"legacySubscriptionId": sub.get("id", request["subscriptionId"])},
    )  # fmt: skip


async def _seats_refused(ctx: StepContext, quantity: int) -> Fail | None:
    offer = ctx.request["offer"]
    found = await Catalog(ctx.pc, ctx.caches.catalog).offer(
        offer["catalogItemId"], ctx.settings.catalog_country
    )
    if found is None or found.minimum <= quantity <= found.maximum:
        return None
    return Fail(messages.for_reason("legacy_seats_out_of_range", quantity=quantity,
                                    subscription_id=ctx.request["subscriptionId"],
                                    title=found.title, minimum=found.minimum,
                                    maximum=found.maximum),
                reason="legacy_seats_out_of_range")  # fmt: skip


async def check_reseller(ctx: StepContext) -> Outcome:
    mpn_id = ctx.request["resellerMpnId"]
    found = await purchase.reseller_status(ctx, mpn_id)
    if not isinstance(found, dict):
        return found
    return Done({"resellerTenantId": found["tenantId"], "resellerName": found["name"]})


# -- the NCE purchase (purchase.py's steps) --------------------------------------------------


def _as_purchase(ctx: StepContext) -> StepContext:
    """The context purchase.py's steps expect: its request shape (``reseller``,
    ``resolvedLines``) and the customer where its ``find_customer`` step would have put it."""
    line = {**ctx.request["offer"], "quantity": ctx.outputs["read_legacy"]["quantity"]}
    request = {"reseller": {"mpnId": ctx.request["resellerMpnId"]}, "resolvedLines": [line]}
    outputs = {**ctx.outputs, "find_customer": {"customerId": ctx.request["customerId"]}}
    return dataclasses.replace(ctx, op=dataclasses.replace(ctx.op, request=request),
                               outputs=outputs)  # fmt: skip


@writes
async def create_cart(ctx: StepContext) -> Outcome:
    return await purchase.create_cart(_as_purchase(ctx))


@writes
async def checkout(ctx: StepContext) -> Outcome:
    return await purchase.checkout(_as_purchase(ctx))


async def await_provisioning(ctx: StepContext) -> Outcome:
    return await purchase.await_provisioning(_as_purchase(ctx))


# -- ending the legacy subscription ----------------------------------------------------------


@writes
async def suspend_legacy(ctx: StepContext) -> Outcome:
    """Suspend with the full body (PATCH replaces whole). The NCE subscription exists by now,
    so anything that may pass later is retried, never failed."""
    try:
        current = (await ctx.pc.call("GET", _path(ctx.request))).body
        status = current.get("status")
        if status == "suspended" or status in ENDED:  # an earlier attempt landed, or it ended
            return Done({"legacyStatus": status}, result={"legacyStatus": status})
        body = patched("suspend", ctx.request, current)
        updated = await ctx.call("PATCH", _path(ctx.request), body=body)
    except PartnerCenterError as exc:
        if exc.status == 409 or exc.retryable:
            return _retry(ctx, exc)
        ids = ctx.outputs["await_provisioning"]
        return Fail(messages.for_reason("legacy_suspend_refused", description=exc.description,
                                        subscription_id=ctx.request["subscriptionId"],
                                        subscription_ids=", ".join(_new_ids(ids))),
                    upstream=exc, reason="legacy_suspend_refused")  # fmt: skip
    except UpstreamError as exc:
        return _retry(ctx, exc)
    status = updated.get("status", "suspended")
    return Done({"legacyStatus": status}, result={"legacyStatus": status})


def _new_ids(output: dict[str, Any]) -> list[str]:
    return [s for order in output.get("orders", []) for s in order.get("subscriptionIds", [])]


def _retry(ctx: StepContext, exc: UpstreamError) -> Wait:
    settings = ctx.settings
    if isinstance(exc, PartnerCenterError) and exc.status == 409:
        wait = settings.renewal_retry_seconds
    else:
        doubling = 2.0 ** min(ctx.step.attempts - 1, 16)  # attempts never run out here
        wait = min(settings.unavailable_backoff_seconds * doubling, 300.0)
        if isinstance(exc, PartnerCenterError) and exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
    return Wait(wait, output={"lastError": str(exc)})
