"""Subscriptions: reads, and the PATCH that changes seats, status, auto-renew, name and partner of
record, under Microsoft's rules.

PATCH is full-replace, as Microsoft documents: an omitted ``autoRenewEnabled`` turns auto-renew
off and an omitted ``scheduledNextTermInstructions`` or ``nextChargeInstructions`` clears them
(the reference's "Pitfall"); an omitted ``quantity``, ``friendlyName``, ``partnerId`` or
``billingCycle`` keeps the current value. Only an accepted PATCH that changes something counts
toward the 1,200-update limit.

Scheduled changes (``scheduledNextTermInstructions``: ``product{productId, skuId,
availabilityId, termDuration, billingCycle}``, ``quantity``, ``customTermEndDate``) need an
active subscription with auto-renew on (400 / 800093); the product must be the same SKU or one
of its ``upgradeTargetOffers`` (400 / 800002), sold with that term and billing (900270 when the
billing is longer than the term, else 800002), the quantity within its range (2002). As the
seed lists, saved instructions are removed by a cancel, a suspend, auto-renew off or a quantity
change (an upgrade or a mid-term trial conversion clears them in ``simulator.transitions``);
the renewal applies them (``simulator.lifecycle``). ``termDuration`` and ``billingCycle`` are
Microsoft's fields of ``product``; sent beside ``product`` they are read as well.
``customTermEndDate`` (co-terminous end): not a date → 900244; neither the last day of a
calendar month nor the end date of another active non-trial subscription of the customer →
900245; not inside the next term (after its start, no later than its full length) → 900246.

A billing-cycle change (``billingCycle`` different from the current one, or
``nextChargeInstructions.product.billingCycle``) is saved as ``nextChargeInstructions`` and takes
effect when the next cycle charge completes (``lifecycle.charge_days``); ``billingCycle`` shows
the cycle in force until then. Refused for trials and perpetual software (800097), a cycle the
offer does not sell for the term (900269; 900270 when longer than the term), and while a cycle
charge is in progress (409 / 900278: next-charge instructions are read-only then).

Order of checks: deleted (2011), expired or disabled (900279), auto-renew asked of perpetual
software (800093), nothing changed (200, uncounted), renewal in progress (409 / 800082), update
limit (900311), then the rule of the change itself. Body fields are strictly typed: a string
quantity or a numeric auto-renew flag is a 400 / 800002 naming the field.

LIMITATIONS:
- Answers are always 200 with the whole subscription, never 202 + ``Location``.
- ``If-Match`` is not checked (no 2055).
- Instructions are rendered only when set; Microsoft shows ``scheduledNextTermInstructions`` on
  every trial (its default conversion), the simulator only once the partner schedules one.
- A quantity change in the same PATCH as new (different) instructions keeps the new ones: only
  *saved* instructions are removed by the quantity change.
- The 900244-900246 split and 900278 for a cycle charge are the simulator's choice (the reference
  names the ranges, not the triggers).
- Legacy CSP subscriptions (``simulator.legacy``) follow their own status and seat rules and
  render without ``refundableQuantity``; their ``provisioningstatus`` ``skuId`` is the offer id.
- Perpetual software has no cancellation window (a cancel is 400 / 900213); Microsoft refunds
  perpetual software in full within 30 days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import Field, StrictBool, StrictInt, StrictStr

from simulator import catalog, legacy, lifecycle, webhooks
from simulator.context import customer_of, partner_of, world_of
from simulator.errors import PartnerCenterError, invalid_input
from simulator.models import Partner, SeatBatch, Subscription
from simulator.wire import (
    JSON_TYPE,
    Inbound,
    body_as,
    collection,
    day,
    dumps,
    iso,
    link,
    query_one,
    respond,
)
from simulator.world import World

HOURS = 168


class ProductTerm(Inbound):
    product_id: StrictStr
    sku_id: StrictStr
    availability_id: StrictStr
    term_duration: StrictStr | None = None
    billing_cycle: StrictStr | None = None


class NextTerm(Inbound):
    product: ProductTerm
    quantity: StrictInt = Field(ge=1)
    term_duration: StrictStr | None = None
    billing_cycle: StrictStr | None = None
    custom_term_end_date: StrictStr | None = None


class NextCharge(Inbound):
    product: ProductTerm
    quantity: StrictInt | None = None


class SubscriptionPatch(Inbound):
    """Strict types: ``"6"`` for a quantity or ``"yes"`` for auto-renew is a 400 naming the
    field, not a silent coercion."""

    quantity: StrictInt | None = Field(default=None, ge=0)
    status: StrictStr | None = None
    auto_renew_enabled: StrictBool | None = None
    friendly_name: StrictStr | None = Field(default=None, max_length=250)
    partner_id: StrictStr | None = None
    billing_cycle: StrictStr | None = None
    scheduled_next_term_instructions: NextTerm | None = None
    next_charge_instructions: NextCharge | None = None


def _links(sub: Subscription, base: str) -> dict[str, Any]:
    if legacy.is_legacy(sub):  # a legacy offer is a GUID, not product:sku:availability
        return {"offer": link(f"/offers/{sub.catalog_item_id}"), "self": link(base)}
    product_id, sku_id, availability_id = sub.catalog_item_id.split(":")
    products = f"/products/{product_id}/skus/{sku_id}"
    return {
        "product": link(f"/products/{product_id}"),
        "sku": link(products),
        "availability": link(f"{products}/availabilities/{availability_id}"),
        "self": link(base),
    }


def render(sub: Subscription, now: datetime) -> dict[str, Any]:
    batches = lifecycle.refundable(sub, now)
    base = f"/customers/{sub.customer_id}/subscriptions/{sub.id}"
    body: dict[str, Any] = {
        "id": sub.id,
        "offerId": sub.catalog_item_id,
        "offerName": sub.offer_name,
        "friendlyName": sub.friendly_name,
        "productType": {"id": sub.product_type, "displayName": sub.product_type},
        "quantity": sub.quantity,
        "unitType": "Licenses",
        "hasPurchasableAddons": False,
        "creationDate": iso(sub.created_at),
        "effectiveStartDate": iso(sub.effective_start),
        "commitmentEndDate": day(sub.commitment_end) if sub.commitment_end else None,
        "commitmentEndDateTime": f"{sub.commitment_end.isoformat()}T23:59:59Z"
        if sub.commitment_end
        else None,
        "status": sub.status,
        "autoRenewEnabled": sub.auto_renew,
        "isTrial": sub.is_trial,
        "billingType": "license",
        "billingCycle": sub.billing_cycle,
        "termDuration": sub.term_duration,
        "renewalTermDuration": "",
        "refundOptions": [{"type": "Full", "expiresAt": iso(sub.cancellation_until)}]
        if sub.cancellation_until and sub.cancellation_until >= now
        else [],
        "isMicrosoftProduct": True,
        "partnerId": sub.partner_id_on_record,
        "attentionNeeded": False,
        "actionTaken": False,
        "contractType": "subscription",
        "links": _links(sub, base),
        "publisherName": "Microsoft Corporation",
        "orderId": sub.order_id,
        "attributes": {"etag": str(sub.version), "objectType": "Subscription"},
    }
    if sub.cancellation_until is not None:
        body["cancellationAllowedUntilDate"] = iso(sub.cancellation_until)
    if not legacy.is_legacy(sub):  # legacy seats have no reduction window
        body["refundableQuantity"] = {
            "totalQuantity": sum(b.quantity for b in batches),
            "details": [
                {"quantity": b.quantity, "allowedUntilDateTime": iso(b.until)} for b in batches
            ],
        }
    if sub.scheduled_next_term is not None:
        body["scheduledNextTermInstructions"] = sub.scheduled_next_term
    if sub.next_charge is not None:
        body["nextChargeInstructions"] = sub.next_charge
    if sub.additional_partner_ids:
        body["additionalPartnerIdsOnRecord"] = list(sub.additional_partner_ids)
    if sub.status == "suspended":
        body["suspensionReasons"] = ["PartnerInitiated"]
    return body


def owned(world: World, partner: Partner, customer_id: str, sub_id: str) -> Subscription:
    """A subscription of this customer held in this partner's account, or 404 / 20003."""
    sub = world.subscriptions.get(sub_id.lower())
    if sub is None or sub.customer_id != customer_id or sub.partner_tenant_id != partner.tenant_id:
        raise PartnerCenterError(20003, sub_id)
    return sub


def update(world: World, partner: Partner, sub: Subscription, patch: SubscriptionPatch) -> bool:
    """Apply a full-replace PATCH; every check runs before the first change. Returns whether
    anything changed."""
    if sub.status == "deleted":
        raise PartnerCenterError(2011, sub.id)
    if sub.status in ("expired", "disabled"):
        raise PartnerCenterError(900279)
    status = (patch.status or sub.status).lower()
    sku = catalog.load().find(sub.catalog_item_id)
    perpetual = sku is not None and sku.is_perpetual
    if patch.auto_renew_enabled and perpetual:
        raise PartnerCenterError(800093)
    auto_renew = bool(patch.auto_renew_enabled) and not perpetual
    quantity = sub.quantity if patch.quantity is None else patch.quantity
    name = sub.friendly_name if patch.friendly_name is None else patch.friendly_name
    por = sub.partner_id_on_record if patch.partner_id is None else patch.partner_id.strip()
    scheduled = _next_term_asked(patch.scheduled_next_term_instructions)
    next_cycle = _next_cycle_asked(sub, patch)
    if (status, auto_renew, quantity, name, por, scheduled, next_cycle) == (
        sub.status, sub.auto_renew, sub.quantity, sub.friendly_name, sub.partner_id_on_record,
        sub.scheduled_next_term, _pending_cycle(sub),
    ):  # fmt: skip
        return False
    if sub.renewing_since is not None:
        raise PartnerCenterError(800082)
    if sub.updates >= world.config.max_updates:
        raise PartnerCenterError(900311)
    if sub.is_trial and quantity != sub.quantity:
        raise PartnerCenterError(
            800095, status=400, description="Can't update seats of a trial subscription."
        )
    if sub.is_trial and status != sub.status:
        raise PartnerCenterError(
            800096, status=400, description="Can't update the status of a trial subscription."
        )
    keeps = status == sub.status and quantity == sub.quantity and auto_renew
    if scheduled is not None and scheduled != sub.scheduled_next_term:
        _check_next_term(world, sub, scheduled, status, auto_renew)
    elif not keeps:  # a cancel, a suspend, auto-renew off or a quantity change removes the
        scheduled = None  # saved instructions, even when the body repeats them
    if status == "deleted":
        next_cycle = None
    elif next_cycle != _pending_cycle(sub):
        _check_next_cycle(world, sub, sku, next_cycle, status)
    if status != sub.status and legacy.is_legacy(sub):
        legacy.change_status(world, sub, status, quantity, auto_renew, name, por)
    elif status != sub.status:
        _change_status(world, sub, status, quantity, auto_renew, name, por)
    else:
        if sub.status == "suspended":
            raise PartnerCenterError(800091)
        if por != sub.partner_id_on_record:
            _check_partner_of_record(world, partner, por)
        if quantity != sub.quantity and legacy.is_legacy(sub):
            legacy.change_quantity(world, sub, quantity)
        elif quantity != sub.quantity:
            _change_quantity(world, sub, quantity, sku)
        sub.auto_renew = auto_renew
        sub.friendly_name = name
        sub.partner_id_on_record = por
    sub.scheduled_next_term = scheduled
    _save_next_cycle(world, sub, next_cycle)
    sub.updates += 1
    sub.version += 1
    return True


# -- scheduled changes and billing cycles ------------------------------------------------------


def _next_term_asked(asked: NextTerm | None) -> dict[str, Any] | None:
    """The instructions as Microsoft shows them (term and billing inside ``product``)."""
    if asked is None:
        return None
    product = asked.product
    out: dict[str, Any] = {
        "product": {
            "productId": product.product_id.upper(),
            "skuId": product.sku_id.upper(),
            "availabilityId": product.availability_id.upper(),
            "termDuration": product.term_duration or asked.term_duration,
            "billingCycle": (product.billing_cycle or asked.billing_cycle or "").lower() or None,
        },
        "quantity": asked.quantity,
    }
    if asked.custom_term_end_date is not None:
        out["customTermEndDate"] = asked.custom_term_end_date
    return out


def _check_next_term(
    world: World, sub: Subscription, asked: dict[str, Any], status: str, auto_renew: bool
) -> None:
    where = "scheduledNextTermInstructions"
    if status != "active" or sub.status != "active" or not auto_renew:
        raise PartnerCenterError(
            800093, status=400,
            description=f"{where} need an active subscription with autoRenewEnabled true.",
        )  # fmt: skip
    product = asked["product"]
    target = catalog.load().find(
        f"{product['productId']}:{product['skuId']}:{product['availabilityId']}"
    )
    current = catalog.load().find(sub.catalog_item_id)
    allowed = set(current.upgrade_targets) if current else set()
    if current is not None and not current.is_trial:
        allowed.add(current.product_sku)
    if target is None or target.is_trial or target.product_sku not in allowed:
        raise invalid_input(
            f"{where}.product must be this subscription's SKU or one of its upgradeTargetOffers "
            f"({', '.join(sorted(allowed)) or 'none'}); no downgrades"
        )
    term, cycle = product["termDuration"], product["billingCycle"]
    if not term or not cycle:
        raise invalid_input(f"{where}.product needs termDuration and billingCycle")
    if not target.offers(term, cycle):
        months = {"P1M": 1, "P1Y": 12, "P3Y": 36}
        if catalog.CYCLE_MONTHS.get(cycle, 0) > months.get(term, 10**3):
            raise PartnerCenterError(900270)
        raise invalid_input(f"{where}.product: {target.title} is not sold as {term}/{cycle}")
    if not target.minimum <= asked["quantity"] <= target.maximum:
        raise PartnerCenterError(2002)
    if "customTermEndDate" in asked:
        asked["customTermEndDate"] = _custom_end(world, sub, asked["customTermEndDate"], term)


def _custom_end(world: World, sub: Subscription, raw: str, term: str) -> str:
    """Check a co-terminous end date; returns it in Microsoft's form."""
    try:
        end = datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
    except ValueError:
        raise PartnerCenterError(
            900244, status=400,
            description=f"customTermEndDate {raw!r} is not a date (yyyy-mm-dd).",
        ) from None  # fmt: skip
    month_end = (end + timedelta(days=1)).day == 1
    others = {
        s.commitment_end
        for s in world.subscriptions_by_customer.get(sub.customer_id, [])
        if s.id != sub.id and s.status == "active" and not s.is_trial
        and s.product_type == sub.product_type
    }  # fmt: skip
    if not month_end and end not in others:
        raise PartnerCenterError(
            900245, status=400,
            description="customTermEndDate must be the last day of a calendar month or the "
            "end date of another active subscription of this customer.",
        )  # fmt: skip
    assert sub.commitment_end is not None  # an auto-renewing subscription has a term
    start = sub.commitment_end + timedelta(days=1)
    if not start <= end <= lifecycle.term_end(start, term):
        raise PartnerCenterError(
            900246, status=400,
            description=f"customTermEndDate must fall inside the next term ({start.isoformat()} "
            f"to {lifecycle.term_end(start, term).isoformat()}).",
        )  # fmt: skip
    return f"{end.isoformat()}T00:00:00Z"


def _pending_cycle(sub: Subscription) -> str | None:
    return None if sub.next_charge is None else str(sub.next_charge["product"]["billingCycle"])


def _next_cycle_asked(sub: Subscription, patch: SubscriptionPatch) -> str | None:
    """The billing cycle the PATCH asks for from the next charge; ``None`` when none (an omitted
    ``nextChargeInstructions`` with the current ``billingCycle`` drops a pending change)."""
    if patch.billing_cycle is not None and patch.billing_cycle.lower() != sub.billing_cycle:
        return patch.billing_cycle.lower()
    charge = patch.next_charge_instructions
    cycle = charge.product.billing_cycle if charge is not None else None
    if cycle is None or cycle.lower() == sub.billing_cycle:
        return None
    return cycle.lower()


def _check_next_cycle(
    world: World, sub: Subscription, sku: catalog.Sku | None, cycle: str | None, status: str
) -> None:
    if sub.is_trial or sku is None or sku.is_perpetual or legacy.is_legacy(sub):
        raise PartnerCenterError(
            800097, status=400, description="Can't update the billing cycle of this subscription."
        )
    if lifecycle.charge_in_progress(world, sub):
        raise PartnerCenterError(
            900278, status=409,
            description="There is a pending operation on this subscription. Please try again "
            "after 24 hours.",
        )  # fmt: skip
    if cycle is None:
        return
    if status != "active" or sub.status != "active":
        raise PartnerCenterError(800091)
    if cycle not in catalog.CYCLE_MONTHS or cycle in ("none", "one_time"):
        raise PartnerCenterError(900269, status=400, description="The billing cycle is invalid.")
    if not sku.offers(sub.term_duration, cycle):
        months = {"P1M": 1, "P1Y": 12, "P3Y": 36}
        if catalog.CYCLE_MONTHS[cycle] > months.get(sub.term_duration or "", 10**3):
            raise PartnerCenterError(900270)
        raise PartnerCenterError(900269, status=400, description="The billing cycle is invalid.")


def _save_next_cycle(world: World, sub: Subscription, cycle: str | None) -> None:
    if cycle == _pending_cycle(sub):
        return
    if cycle is None:
        sub.next_charge = None
        return
    product_id, sku_id, availability_id = sub.catalog_item_id.split(":")
    sub.next_charge = {
        "product": {
            "productId": product_id,
            "skuId": sku_id,
            "availabilityId": availability_id,
            "termDuration": sub.term_duration,
            "billingCycle": cycle,
        },
        "quantity": sub.quantity,
    }
    lifecycle.schedule_next_charge(world, sub)


def _change_status(
    world: World,
    sub: Subscription,
    status: str,
    quantity: int,
    auto_renew: bool,
    name: str,
    por: str,
) -> None:
    now = world.now
    if status == "deleted":
        if sub.cancellation_until is None or now > sub.cancellation_until:
            raise PartnerCenterError(900213, HOURS)
        sub.status, sub.status_since, sub.auto_renew = "deleted", now, False
        sub.seat_batches = []
        return
    if quantity != sub.quantity:
        raise PartnerCenterError(
            2001, status=400, description="Quantity can't be changed in the same request as status."
        )
    if sub.status == "active" and status == "suspended":
        sub.status, sub.status_since, sub.auto_renew = "suspended", now, False
        _suspend_orphaned_addons(world, sub)
    elif sub.status == "suspended" and status == "active":
        sub.status, sub.status_since, sub.auto_renew = "active", now, auto_renew
    else:
        raise PartnerCenterError(800040, status, sub.status)
    sub.friendly_name = name
    sub.partner_id_on_record = por


def _suspend_orphaned_addons(world: World, base: Subscription) -> None:
    """Suspending a base suspends its add-ons (seed ``003_…``): every active add-on of this
    partner for the customer that lists the base among its prerequisites and has no other
    active base left."""
    items = catalog.load()
    base_sku = items.find(base.catalog_item_id)
    if base_sku is None:
        return
    held = world.subscriptions_by_customer.get(base.customer_id, [])
    for addon in held:
        sku = items.find(addon.catalog_item_id)
        if (
            sku is None
            or not sku.is_addon
            or addon.status != "active"
            or addon.partner_tenant_id != base.partner_tenant_id
            or base_sku.product_sku not in sku.prerequisites
        ):
            continue
        still_based = any(
            other.status == "active"
            and (other_sku := items.find(other.catalog_item_id)) is not None
            and other_sku.product_sku in sku.prerequisites
            for other in held
            if other is not base
        )
        if not still_based:
            addon.status, addon.status_since, addon.auto_renew = "suspended", world.now, False
            addon.scheduled_next_term = None
            addon.version += 1


def _check_customer_seat_cap(
    world: World, sub: Subscription, quantity: int, sku: catalog.Sku
) -> None:
    """The SMB suites' seats per customer, across its subscriptions with every partner."""
    cap = sku.seats_per_customer
    if cap is None:
        return
    items = catalog.load()
    held = sum(
        other.quantity
        for other in world.subscriptions_by_customer.get(sub.customer_id, [])
        if other.status in ("active", "suspended")
        and (other_sku := items.find(other.catalog_item_id)) is not None
        and other_sku.product_sku == sku.product_sku
    )
    total = held - sub.quantity + quantity
    if total > cap:
        raise invalid_input(
            f"quantity: {sku.title} is capped at {cap} seats per customer across all its "
            f"subscriptions and partners; this change would make {total}"
        )


def _check_partner_of_record(world: World, partner: Partner, mpn_id: str) -> None:
    from simulator.purchases import check_reseller  # purchases imports this module

    if mpn_id:
        check_reseller(world, partner, mpn_id)


def _change_quantity(
    world: World, sub: Subscription, quantity: int, sku: catalog.Sku | None
) -> None:
    now = world.now
    low, high = (sku.minimum, sku.maximum) if sku else (1, 10**6)
    if not low <= quantity <= high:
        raise PartnerCenterError(2002)
    if world.config.sandbox_limits and quantity > 25:
        raise PartnerCenterError(800018, "25 licenses per subscription")
    if quantity > sub.quantity and sku is not None:
        _check_customer_seat_cap(world, sub, quantity, sku)
    if quantity > sub.quantity:
        sub.seat_batches.append(
            SeatBatch(quantity - sub.quantity, now + world.config.cancellation_window)
        )
    else:
        batches = lifecycle.refundable(sub, now)
        reducible = sum(b.quantity for b in batches)
        if quantity < sub.quantity - reducible:
            raise PartnerCenterError(900214, HOURS)
        to_remove = sub.quantity - quantity
        for batch in reversed(batches):  # newest seats go first
            taken = min(batch.quantity, to_remove)
            batch.quantity -= taken
            to_remove -= taken
            if not to_remove:
                break
        sub.seat_batches = [b for b in sub.seat_batches if b.quantity > 0]
    sub.quantity = quantity


# -- handlers ----------------------------------------------------------------------------------


async def list_subscriptions(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    order_id = query_one(request, "order_id")
    mpn_id = query_one(request, "mpn_id")
    items = [
        render(s, world.now)
        for s in world.subscriptions_by_customer.get(customer.tenant_id, [])
        if s.partner_tenant_id == partner.tenant_id
        and (order_id is None or s.order_id == order_id)
        and (mpn_id is None or s.partner_id_on_record == mpn_id)
    ]
    return respond(collection(items, request.path_qs.removeprefix("/v1")))


async def get_subscription(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    sub = owned(world, partner, customer.tenant_id, request.match_info["subscription"])
    return web.Response(body=rendered(world, sub), content_type=JSON_TYPE)


def rendered(world: World, sub: Subscription) -> bytes:
    """The subscription's JSON, cached until it changes (``version``) or the clock moves: the
    hottest read a marketplace makes, and the answer only depends on those two."""
    key = (sub.version, world.now)
    cache = world.render_cache
    hit = cache.get(sub.id)
    if hit is not None and hit[0] == key:
        return hit[1]
    body = dumps(render(sub, world.now))
    if len(cache) >= 4096:
        cache.clear()
    cache[sub.id] = (key, body)
    return body


async def patch_subscription(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    sub = owned(world, partner, customer.tenant_id, request.match_info["subscription"])
    patch = await body_as(request, SubscriptionPatch)
    before = (sub.quantity, sub.status, sub.auto_renew)
    update(world, partner, sub, patch)
    if (sub.quantity, sub.status, sub.auto_renew) != before:  # a commerce-level change
        webhooks.subscription_updated(request, partner.tenant_id, customer.tenant_id, sub.id)
    return respond(render(sub, world.now))


async def provisioning_status(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    sub = owned(world, partner, customer.tenant_id, request.match_info["subscription"])
    return respond(
        {
            "skuId": sub.catalog_item_id
            if legacy.is_legacy(sub)
            else sub.catalog_item_id.split(":")[1],
            "status": "success",
            "quantity": sub.quantity,
            "endDate": day(sub.commitment_end) if sub.commitment_end else None,
            "attributes": {"objectType": "SubscriptionProvisioningStatus"},
        }
    )


def add_routes(router: web.UrlDispatcher) -> None:
    base = "/v1/customers/{customer}/subscriptions"
    router.add_get(base, list_subscriptions)
    router.add_get(base + "/{subscription}", get_subscription)
    router.add_patch(base + "/{subscription}", patch_subscription)
    router.add_get(base + "/{subscription}/provisioningstatus", provisioning_status)
