"""New-commerce transitions: upgrades, and the mid-term conversion of a trial to its paid SKU.

``GET …/transitionEligibilities`` lists the targets of the subscription's SKU (its
``upgradeTargetOffers``, so no downgrade is ever offered) with Microsoft's target error codes
(1 not active, 2 in its cancellation window, 3 a shorter term than the source, 4 ends before the
source). ``POST …/transitions`` performs one at once and answers 200 with ``Events`` [Conversion
Started]; the transition is listed by ``GET …/transitions`` as soon as the POST answers.

What a transition does:
- **full** (all seats, no ``toSubscriptionId``): the same subscription id takes the target
  offer, keeping its end date (same term) and its ``cancellationAllowedUntilDate``;
- **partial** (fewer seats): the source keeps the rest, and a new subscription coterminous with
  it (same ``commitmentEndDate``) holds the moved seats, with a closed window and nothing
  refundable (upgrades have no cancellation window);
- **into an existing subscription**: its ``catalogItemId`` must be the target (900260), its term
  not shorter than the source's (900267), it must be active, outside its own cancellation window
  and end on or after the source; the seats join it (no new window) and a source left without
  seats ends (``deleted``);
- **trial conversion** mid-term: to the paid SKU with at least 25 seats; the trial either
  becomes, same id, the paid subscription (P1Y billed monthly unless asked otherwise, a new term
  and a new 168-hour window) or hands its seats to an existing subscription.

Every transition removes the source's scheduled next-term instructions. Refusals are checked
before anything changes: 800002 naming the rule, or Microsoft's code where it has one.

LIMITATIONS:
- Transitions complete at once (no ``Started`` state a client can observe); the history shows
  each with ``Conversion`` Started then Completed, plus ``LicenseReassignment`` Completed for
  ``transition_with_license_transfer``.
- The history lives beside the world, not in ``/_sim/state``; a reset clears it.
- Eligibility errors about the source itself (not active, not auto-renewing for ``scheduled``,
  a trial below 25 seats) reuse the target codes' numbering with code 1 and a description; the
  real codes are undocumented.
- ``scheduled`` eligibility lists the same targets and never lists existing subscriptions; only
  ``immediate`` transitions can be performed here (scheduled changes are PATCHed as
  ``scheduledNextTermInstructions``).
- A target term shorter than the source's is 900267 whether the target is new or existing.
- A source that moved all its seats into an existing subscription becomes ``deleted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web
from pydantic import Field, StrictInt, StrictStr

from simulator import catalog, lifecycle
from simulator.catalog import Sku
from simulator.context import customer_of, partner_of, world_of
from simulator.errors import PartnerCenterError, invalid_input
from simulator.models import Order, OrderLine, Partner, SeatBatch, Subscription
from simulator.subscriptions import owned
from simulator.wire import Inbound, body_as, collection, iso, query_one, respond
from simulator.world import World

TYPES = ("transition_only", "transition_with_license_transfer")
TRIAL_MINIMUM = 25
TRIAL_DEFAULT = lifecycle.TRIAL_CONVERSION
TERM_MONTHS = lifecycle.TERM_MONTHS
#: Microsoft's target-subscription eligibility error codes.
NOT_ACTIVE, IN_WINDOW, SHORTER_TERM, ENDS_BEFORE = 1, 2, 3, 4


class TransitionIn(Inbound):
    to_catalog_item_id: StrictStr = Field(min_length=1)
    quantity: StrictInt = Field(ge=1)
    transition_type: StrictStr
    to_subscription_id: StrictStr | None = None
    from_catalog_item_id: StrictStr | None = None
    from_subscription_id: StrictStr | None = None
    term_duration: StrictStr | None = None
    billing_cycle: StrictStr | None = None


@dataclass(slots=True)
class Transition:
    id: str
    customer_id: str
    from_subscription_id: str
    from_catalog_item_id: str
    to_subscription_id: str
    to_catalog_item_id: str
    quantity: int
    term_duration: str | None
    billing_cycle: str
    transition_type: str
    at: datetime


@dataclass(slots=True)
class _Plan:
    """What a checked transition will do; built before the first change."""

    source: Subscription
    target: Sku
    quantity: int
    term: str | None
    cycle: str
    existing: Subscription | None = None


def history(world: World) -> list[Transition]:
    """The world's transitions, oldest first (a reset's new world starts with none)."""
    return world.transitions


# -- rules -------------------------------------------------------------------------------------


def _sku(sub: Subscription) -> Sku:
    sku = catalog.load().find(sub.catalog_item_id)
    if sku is None:
        raise invalid_input(
            f"subscription {sub.id}: offer {sub.catalog_item_id} has no new-commerce transitions"
        )
    return sku


def targets(sku: Sku) -> list[Sku]:
    """The SKUs ``sku`` may move to: its ``upgradeTargetOffers``, nothing else."""
    items = catalog.load()
    found = []
    for ref in sku.upgrade_targets:
        product_id, _, sku_id = ref.partition(":")
        found += [s for s in items.products.get(product_id, []) if s.id == sku_id]
    return found


def _months(term: str | None) -> int:
    return TERM_MONTHS.get(term or "", 0)


def _window_open(sub: Subscription, now: datetime) -> bool:
    return sub.cancellation_until is not None and now <= sub.cancellation_until


def target_errors(source: Subscription, target: Subscription, now: datetime) -> list[int]:
    """Why ``target`` can't receive ``source``'s seats, as Microsoft's codes 1-4."""
    errors = []
    if target.status != "active":
        errors.append(NOT_ACTIVE)
    if _window_open(target, now):
        errors.append(IN_WINDOW)
    if not source.is_trial and _months(target.term_duration) < _months(source.term_duration):
        errors.append(SHORTER_TERM)
    if (target.commitment_end or date.max) < (source.commitment_end or date.min):
        errors.append(ENDS_BEFORE)
    return errors


ERROR_TEXT = {
    NOT_ACTIVE: "The target subscription is not active.",
    IN_WINDOW: "The target subscription is still inside its cancellation window.",
    SHORTER_TERM: "The target subscription's term is shorter than the source subscription's.",
    ENDS_BEFORE: "The target subscription ends before the source subscription.",
}


def _check_source(world: World, source: Subscription) -> None:
    if source.status != "active":
        raise invalid_input(
            f"subscription {source.id} is {source.status}; only active subscriptions can be "
            "upgraded or converted"
        )
    if source.renewing_since is not None:
        raise PartnerCenterError(800082)


def _check_target(source: Subscription, body: TransitionIn) -> Sku:
    sku = _sku(source)
    wanted = catalog.load().find(body.to_catalog_item_id)
    allowed = [t.product_sku for t in targets(sku)]
    if wanted is None or wanted.product_sku not in allowed:
        raise invalid_input(
            f"toCatalogItemId {body.to_catalog_item_id} is not an upgrade target of "
            f"{sku.title}: transitions go only to the SKU's upgradeTargetOffers "
            f"({', '.join(allowed) or 'none'}); downgrades and unsupported paths are refused"
        )
    return wanted


def _check_quantity(source: Subscription, body: TransitionIn, target: Sku) -> None:
    if source.is_trial:
        if body.quantity < TRIAL_MINIMUM:
            raise invalid_input(
                f"quantity {body.quantity}: a trial converted mid-term needs at least "
                f"{TRIAL_MINIMUM} seats (convert fewer at renewal with scheduled changes)"
            )
    elif body.quantity > source.quantity:
        raise invalid_input(
            f"quantity {body.quantity} exceeds the {source.quantity} seats of subscription "
            f"{source.id}; only seats it holds can be upgraded"
        )
    if not target.minimum <= body.quantity <= target.maximum:
        raise invalid_input(
            f"quantity {body.quantity} is outside what {target.title} allows "
            f"({target.minimum}-{target.maximum})"
        )


def _term(source: Subscription, body: TransitionIn, target: Sku) -> tuple[str | None, str]:
    term: str | None
    if source.is_trial:
        term, cycle = body.term_duration or TRIAL_DEFAULT[0], body.billing_cycle or TRIAL_DEFAULT[1]
    else:
        term = body.term_duration or source.term_duration
        cycle = body.billing_cycle or source.billing_cycle
    cycle = cycle.lower()
    if not target.offers(term, cycle):
        offered = ", ".join(f"{t}/{c}" for t, c in target.terms)
        raise invalid_input(
            f"termDuration/billingCycle {term}/{cycle} is not offered by {target.title} "
            f"(offered: {offered})"
        )
    if not source.is_trial and _months(term) < _months(source.term_duration):
        raise _shorter_term()
    return term, cycle


def _shorter_term() -> PartnerCenterError:
    return PartnerCenterError(
        900267,
        status=400,
        description="Target transition can't have a term duration shorter than that of the "
        "source subscription.",
    )


def _check_existing(
    world: World, partner: Partner, plan: _Plan, body: TransitionIn, customer_id: str
) -> Subscription:
    source = plan.source
    existing = owned(world, partner, customer_id, body.to_subscription_id or "")
    if existing.id == source.id:
        raise invalid_input("toSubscriptionId: a subscription can't be transitioned into itself")
    if existing.catalog_item_id.upper() != plan.target.catalog_item_id:
        raise PartnerCenterError(
            900260,
            status=400,
            description=f"The target subscription's catalogItemId ({existing.catalog_item_id}) "
            f"differs from toCatalogItemId ({body.to_catalog_item_id}).",
        )
    errors = target_errors(source, existing, world.now)
    if SHORTER_TERM in errors:
        raise _shorter_term()
    if NOT_ACTIVE in errors:
        raise invalid_input(
            f"toSubscriptionId {existing.id} is {existing.status}; seats can only join an "
            "active subscription"
        )
    if IN_WINDOW in errors:
        raise invalid_input(
            f"toSubscriptionId {existing.id}: the target must not be in its cancellation window "
            f"(open until {iso(existing.cancellation_until)})"
        )
    if ENDS_BEFORE in errors:
        raise invalid_input(
            f"toSubscriptionId {existing.id} ends on {existing.commitment_end}, before "
            f"subscription {source.id} ({source.commitment_end}); the target's end date must be "
            "on or after the source's"
        )
    return existing


def check(
    world: World, partner: Partner, customer_id: str, source: Subscription, body: TransitionIn
) -> _Plan:
    """Every rule, before anything changes."""
    if body.transition_type.lower() not in TYPES:
        raise invalid_input(f"transitionType must be one of {', '.join(TYPES)}")
    if body.from_subscription_id and body.from_subscription_id.lower() != source.id:
        raise invalid_input("fromSubscriptionId differs from the subscription in the path")
    _check_source(world, source)
    target = _check_target(source, body)
    _check_quantity(source, body, target)
    plan = _Plan(source, target, body.quantity, source.term_duration, source.billing_cycle)
    if body.to_subscription_id:
        plan.existing = _check_existing(world, partner, plan, body, customer_id)
        plan.term, plan.cycle = plan.existing.term_duration, plan.existing.billing_cycle
    else:
        plan.term, plan.cycle = _term(source, body, target)
    return plan


# -- changes -----------------------------------------------------------------------------------


def _take_seats(sub: Subscription, quantity: int) -> None:
    """Move ``quantity`` seats out of ``sub``, newest refundable batches first."""
    left = quantity
    for batch in reversed(sub.seat_batches):
        taken = min(batch.quantity, left)
        batch.quantity -= taken
        left -= taken
    sub.seat_batches = [b for b in sub.seat_batches if b.quantity > 0]
    sub.quantity -= quantity


def _end(world: World, sub: Subscription) -> None:
    sub.status, sub.status_since, sub.auto_renew = "deleted", world.now, False
    sub.seat_batches = []


def _retitle(sub: Subscription, target: Sku) -> None:
    if sub.friendly_name == sub.offer_name:
        sub.friendly_name = target.title
    sub.catalog_item_id, sub.offer_name = target.catalog_item_id, target.title
    sub.product_type = target.product_type


def _full(world: World, plan: _Plan) -> Subscription:
    """Same id, new offer; the end date stays unless the term grows (a new full term then)."""
    sub = plan.source
    now = world.now
    _retitle(sub, plan.target)
    old_end = sub.commitment_end
    if sub.is_trial:
        today = now.date()
        window = now + world.config.cancellation_window
        sub.is_trial = False
        sub.quantity = plan.quantity
        sub.effective_start = datetime(today.year, today.month, today.day, tzinfo=UTC)
        sub.commitment_end = lifecycle.term_end(today, plan.term or TRIAL_DEFAULT[0])
        sub.cancellation_until = window
        sub.seat_batches = [SeatBatch(plan.quantity, window)]
        sub.term_duration, sub.billing_cycle = plan.term, plan.cycle
        lifecycle.schedule_term(world, sub)
        return sub
    if plan.term != sub.term_duration and plan.term is not None:
        sub.commitment_end = lifecycle.term_end(now.date(), plan.term)
    sub.term_duration, sub.billing_cycle = plan.term, plan.cycle
    if sub.commitment_end != old_end:
        lifecycle.schedule_term_end(world, sub)
    return sub


def _partial(world: World, plan: _Plan) -> Subscription:
    """A new subscription coterminous with the source, with no cancellation window."""
    source, target = plan.source, plan.target
    now = world.now
    end = source.commitment_end
    if plan.term != source.term_duration and plan.term is not None:
        end = lifecycle.term_end(now.date(), plan.term)
    order = Order(
        id=world.hex_id(12),
        customer_id=source.customer_id,
        partner_id=source.partner_tenant_id,
        created_at=now,
        completes_at=now,
        billing_cycle=plan.cycle,
        lines=[],
        total_price=0.0,
        transaction_type="SystemPurchase",
        completed=True,
    )
    new = Subscription(
        id=world.guid(),
        customer_id=source.customer_id,
        partner_tenant_id=source.partner_tenant_id,
        order_id=order.id,
        catalog_item_id=target.catalog_item_id,
        offer_name=target.title,
        friendly_name=target.title,
        quantity=plan.quantity,
        billing_cycle=plan.cycle,
        term_duration=plan.term,
        created_at=now,
        effective_start=now,
        commitment_end=end,
        cancellation_until=None,
        seat_batches=[],
        partner_id_on_record=source.partner_id_on_record,
        additional_partner_ids=list(source.additional_partner_ids),
        product_type=target.product_type,
        auto_renew=source.auto_renew,
        upgraded_from=source.id,
    )
    order.lines.append(
        OrderLine(
            number=0,
            catalog_item_id=target.catalog_item_id,
            quantity=plan.quantity,
            billing_cycle=plan.cycle,
            term_duration=plan.term,
            friendly_name=target.title,
            partner_id_on_record=source.partner_id_on_record or None,
            additional_partner_ids=list(source.additional_partner_ids),
            provisioning_context={},
            subscription_id=new.id,
            transaction_type="Upgrade",
        )
    )
    _take_seats(source, plan.quantity)
    world.add_order(order)
    world.add_subscription(new)
    lifecycle.schedule_term(world, new)
    return new


def _into_existing(world: World, plan: _Plan) -> Subscription:
    existing, source = plan.existing, plan.source
    assert existing is not None
    existing.quantity += plan.quantity  # upgraded seats have no reduction window
    existing.version += 1
    if source.is_trial or plan.quantity >= source.quantity:
        _end(world, source)
    else:
        _take_seats(source, plan.quantity)
    return existing


def perform(world: World, plan: _Plan, body: TransitionIn) -> Transition:
    source = plan.source
    from_item = source.catalog_item_id
    source.scheduled_next_term = None  # a mid-term upgrade removes what was scheduled
    if plan.existing is not None:
        landed = _into_existing(world, plan)
    elif source.is_trial or plan.quantity == source.quantity:
        landed = _full(world, plan)
    else:
        landed = _partial(world, plan)
    source.updates += 1
    source.version += 1
    transition = Transition(
        id=world.guid(),
        customer_id=source.customer_id,
        from_subscription_id=source.id,
        from_catalog_item_id=from_item,
        to_subscription_id=landed.id,
        to_catalog_item_id=plan.target.catalog_item_id,
        quantity=plan.quantity,
        term_duration=landed.term_duration,
        billing_cycle=landed.billing_cycle,
        transition_type=body.transition_type.lower(),
        at=world.now,
    )
    history(world).append(transition)
    return transition


# -- rendering ---------------------------------------------------------------------------------


def _event(name: str, status: str, at: datetime) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "timestamp": iso(at),
        "attributes": {"objectType": "TransitionEvent"},
    }


def render(transition: Transition, *, done: bool) -> dict[str, Any]:
    events = [_event("Conversion", "Started", transition.at)]
    if done:
        events.append(_event("Conversion", "Completed", transition.at))
        if transition.transition_type == "transition_with_license_transfer":
            events.append(_event("LicenseReassignment", "Completed", transition.at))
    return {
        "operationId": transition.id,
        "fromCatalogItemId": transition.from_catalog_item_id,
        "fromSubscriptionId": transition.from_subscription_id,
        "toCatalogItemId": transition.to_catalog_item_id,
        "toSubscriptionId": transition.to_subscription_id,
        "quantity": transition.quantity,
        "termDuration": transition.term_duration,
        "billingCycle": transition.billing_cycle,
        "transitionType": transition.transition_type,
        "Events": events,
        "attributes": {"objectType": "Transition"},
    }


def _source_errors(sub: Subscription, scheduled: bool) -> list[dict[str, Any]]:
    if sub.status != "active":
        return [{"code": NOT_ACTIVE, "description": f"The subscription is {sub.status}."}]
    if scheduled and not sub.auto_renew:
        return [{"code": NOT_ACTIVE, "description": "Scheduled transitions need auto-renew on."}]
    return []


def eligibility(world: World, sub: Subscription, target: Sku, scheduled: bool) -> dict[str, Any]:
    errors = _source_errors(sub, scheduled)
    candidates = []
    if not scheduled and not sub.is_trial:
        candidates = [
            s
            for s in world.subscriptions_by_customer.get(sub.customer_id, [])
            if s.partner_tenant_id == sub.partner_tenant_id
            and s.id != sub.id
            and s.catalog_item_id == target.catalog_item_id
            and s.status not in ("deleted", "expired", "disabled")
        ]
    return {
        "catalogItemId": target.catalog_item_id,
        "title": target.title,
        "description": target.product_description,
        "quantity": max(sub.quantity, TRIAL_MINIMUM) if sub.is_trial else sub.quantity,
        "eligibilities": [
            {"isEligible": not errors, "transitionType": kind, "errors": errors} for kind in TYPES
        ],
        "subscriptionEligibilities": [_candidate(sub, s, world.now) for s in candidates],
        "attributes": {"objectType": "TransitionEligibility"},
    }


def _candidate(source: Subscription, target: Subscription, now: datetime) -> dict[str, Any]:
    codes = target_errors(source, target, now)
    return {
        "isEligible": not codes,
        "subscriptionId": target.id,
        "subscriptionFriendlyName": target.friendly_name,
        "subscriptionTermDuration": target.term_duration,
        "subscriptionBillingCycle": target.billing_cycle,
        "errors": [{"code": c, "description": ERROR_TEXT[c]} for c in codes],
    }


# -- handlers ----------------------------------------------------------------------------------


async def get_eligibilities(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    sub = owned(world, partner, customer.tenant_id, request.match_info["subscription"])
    kind = (query_one(request, "eligibilityType") or "immediate").lower()
    if kind not in ("immediate", "scheduled"):
        raise invalid_input("eligibilityType must be immediate or scheduled")
    sku = catalog.load().find(sub.catalog_item_id)
    items = [eligibility(world, sub, t, kind == "scheduled") for t in targets(sku)] if sku else []
    return respond(collection(items, request.path_qs.removeprefix("/v1")))


async def list_transitions(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    sub = owned(world, partner, customer.tenant_id, request.match_info["subscription"])
    operation_id = query_one(request, "operationId")
    items = [
        render(t, done=True)
        for t in history(world)
        if sub.id in (t.from_subscription_id, t.to_subscription_id)
        and (operation_id is None or t.id == operation_id.lower())
    ]
    return respond({"transition": items, "attributes": {"objectType": "Collection"}})


async def post_transition(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    sub = owned(world, partner, customer.tenant_id, request.match_info["subscription"])
    body = await body_as(request, TransitionIn)
    plan = check(world, partner, customer.tenant_id, sub, body)
    return respond(render(perform(world, plan, body), done=False))


def add_routes(router: web.UrlDispatcher) -> None:
    base = "/v1/customers/{customer}/subscriptions/{subscription}"
    for path in ("transitionEligibilities", "transitioneligibilities"):
        router.add_get(f"{base}/{path}", get_eligibilities)
    router.add_get(base + "/transitions", list_transitions)
    router.add_post(base + "/transitions", post_transition)
