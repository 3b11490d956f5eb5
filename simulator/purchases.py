"""The rules a purchase must pass, and what a purchase creates: orders, then subscriptions.

Both a cart checkout and a direct ``POST …/orders`` come here. Every rule runs before anything is
created, in this order: the customer's MCA (403 / 13605); quantities outside the offer's range
(900275, including a cart line carrying error 10010 or 10015); other lines with errors (800009);
the reseller of record on each line (800015, 2072, 800016, 900123); the partner-of-record
attestation (900206, only when a line names a reseller); EU/EFTA additional resellers (800002);
add-on rules (800002); offers limited to one subscription per customer and the SMB suites' 300
seats per customer (800002); the per-tenant subscription cap ``maxSubscriptionsPerCustomer``
(403 / 800066); sandbox limits (800018).

Add-on rules and every cap count what the customer holds with every partner, including the
lines of orders still pending: their subscriptions don't exist yet, but will.

An add-on's term ends with its base's: its ``commitmentEndDate`` is that of the customer's active
subscription of a prerequisite SKU (with any partner, or bought in the same order) that ends
last, when that date falls within the add-on's own term; otherwise (a monthly add-on on an annual
base, or no base with an end date) the add-on keeps its own term end. A perpetual licence gets a
one-use product key when its order completes (``simulator.orders`` shows it).

An order is ``completed`` once ``orderProvisioning`` has passed on the simulated clock (at once
with the default ``PT0S``); only then do its subscriptions exist.

LIMITATIONS:
- Every line of a purchase succeeds or the whole purchase is refused: no ``partial success``
  orders and no ``orderErrors`` entries.
- Prices are list prices; no promotions, no proration.
- Add-on rules are checked when add-on seats are bought; reducing or cancelling base seats later
  never re-checks the customer's existing Copilot or Multi-Geo seats.
- Sandbox limits and the per-tenant cap count subscriptions in any status but ``deleted``
  (legacy ones included); the one-per-customer and SMB seat caps count ``active`` and
  ``suspended`` ones. A seat increase by PATCH or an upgrade is not checked against the SMB
  per-customer cap (``simulator.subscriptions`` owns those changes).
- Suspending a base subscription does not suspend its add-ons.
- Only an add-on's first term is aligned to its base; renewals then follow each subscription's
  own term (so they stay aligned when both have the same term).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.partner_center.regions import EU_EFTA
from simulator import catalog, lifecycle
from simulator.agreements import has_mca
from simulator.catalog import Sku
from simulator.clock import Handler, event
from simulator.errors import PartnerCenterError, invalid_input
from simulator.models import Customer, Order, OrderLine, Partner, SeatBatch, Subscription
from simulator.world import World

MAX_ADDITIONAL_RESELLERS = 5
#: Cart line errors that checkout reports as 900275 (quantity outside the offer's range) rather
#: than the generic 800009.
QUANTITY_LINE_ERRORS = frozenset({10010, 10015})
SANDBOX_SUBSCRIPTIONS = 5
SANDBOX_LICENSES = 25


@dataclass(slots=True)
class Line:
    """One line of a purchase, from a cart line or a direct order line."""

    number: int
    sku: Sku
    quantity: int
    term: str | None
    cycle: str
    friendly_name: str | None = None
    reseller: str | None = None
    additional: list[str] = field(default_factory=list)
    provisioning_context: dict[str, Any] = field(default_factory=dict)
    #: The cart line's embedded ``errorCode``, if any; such a purchase is refused at checkout.
    error_code: int | None = None

    def quantity_out_of_range(self) -> bool:
        if self.error_code is not None:
            return self.error_code in QUANTITY_LINE_ERRORS
        return not self.sku.minimum <= self.quantity <= self.sku.maximum


def check_reseller(world: World, provider: Partner, mpn_id: str) -> Partner:
    """The reseller of record must be an indirect reseller related to this provider, with a
    signed MPA — never the provider itself."""
    reseller = world.partners_by_mpn.get(mpn_id)
    if reseller is None:
        raise PartnerCenterError(800015, mpn_id)
    if reseller.kind == "indirect_provider" or reseller.tenant_id == provider.tenant_id:
        raise PartnerCenterError(2072)
    if (
        reseller.kind != "indirect_reseller"
        or provider.tenant_id not in reseller.accepted_providers
    ):
        raise PartnerCenterError(800016, mpn_id)
    if not reseller.mpa_signed:
        raise PartnerCenterError(900123, mpn_id)
    return reseller


def _check_additional(world: World, provider: Partner, customer: Customer, line: Line) -> None:
    if not line.additional:
        return
    where = f"line {line.number}"
    if line.reseller is None:
        raise invalid_input(
            f"{where}: additional resellers need a primary transaction_reseller on the line"
        )
    if customer.country not in EU_EFTA:
        raise invalid_input(
            f"{where}: additional resellers are only for customers in EU/EFTA countries; "
            f"this customer is in {customer.country}"
        )
    if len(line.additional) > MAX_ADDITIONAL_RESELLERS:
        raise invalid_input(
            f"{where}: at most {MAX_ADDITIONAL_RESELLERS} additional resellers, "
            f"got {len(line.additional)}"
        )
    if len(set(line.additional)) != len(line.additional) or line.reseller in line.additional:
        raise invalid_input(f"{where}: an additional reseller is listed twice")
    for mpn_id in line.additional:
        reseller = world.partners_by_mpn.get(mpn_id)
        if reseller is None:
            raise invalid_input(f"{where}: additional reseller {mpn_id} isn't found")
        if reseller.tenant_id == provider.tenant_id or reseller.kind == "indirect_provider":
            raise invalid_input(
                f"{where}: additional reseller {mpn_id} is an indirect provider; "
                "only indirect resellers can be additional resellers"
            )
        if (
            reseller.kind != "indirect_reseller"
            or provider.tenant_id not in reseller.accepted_providers
        ):
            raise invalid_input(
                f"{where}: additional reseller {mpn_id} isn't a valid indirect reseller of "
                "this provider"
            )
        if not reseller.mpa_signed:
            raise invalid_input(
                f"{where}: additional reseller {mpn_id} hasn't signed the Microsoft Partner "
                "Agreement"
            )


def _held(world: World, customer: Customer, statuses: tuple[str, ...]) -> list[tuple[str, int]]:
    """``(catalogItemId, quantity)`` of what the customer holds with every partner: subscriptions
    in ``statuses`` plus the lines of orders still pending (whose subscriptions don't exist yet
    but will), so a pending order can't be used to slip past a cap."""
    held = [
        (s.catalog_item_id, s.quantity)
        for s in world.subscriptions_by_customer.get(customer.tenant_id, [])
        if s.status in statuses
    ]
    held += [
        (line.catalog_item_id, line.quantity)
        for order in world.orders_by_customer.get(customer.tenant_id, [])
        if not order.completed
        for line in order.lines
    ]
    return held


def _seats(held: list[tuple[str, int]], lines: list[Line], product_skus: set[str]) -> int:
    """Seats of these ``product:sku`` held plus bought now."""
    items = catalog.load()
    total = 0
    for item_id, quantity in held:
        sku = items.find(item_id)
        total += quantity if sku is not None and sku.product_sku in product_skus else 0
    return total + sum(line.quantity for line in lines if line.sku.product_sku in product_skus)


def _check_addons(world: World, customer: Customer, lines: list[Line]) -> None:
    """Add-on caps, counted over everything the customer holds with every partner plus this
    purchase: Copilot seats ≤ eligible base seats; Multi-Geo seats ≥ ceil(5 % of them)."""
    if not any(line.sku.addon_rule is not None for line in lines):
        return  # what the customer holds is walked only when a rule needs it
    held = _held(world, customer, ("active", "suspended"))
    checked: set[str] = set()
    for line in lines:
        addon = line.sku
        if addon.addon_rule is None or addon.catalog_item_id in checked:
            continue
        checked.add(addon.catalog_item_id)
        base = _seats(held, lines, set(addon.prerequisites))
        seats = _seats(held, lines, {addon.product_sku})
        if addon.addon_rule == "copilot" and seats > base:
            raise invalid_input(
                f"line {line.number}: {addon.title} seats ({seats}) can't exceed the "
                f"customer's eligible base seats ({base}), counted across all partners"
            )
        if addon.addon_rule == "multigeo":
            minimum = max(1, math.ceil(base * 0.05))
            if base == 0 or seats < minimum:
                raise invalid_input(
                    f"line {line.number}: {addon.title} needs at least 5% of the customer's "
                    f"eligible base seats ({base}), so at least {minimum} seats; "
                    f"this purchase would make {seats}"
                )


def _check_offer_caps(world: World, customer: Customer, lines: list[Line]) -> None:
    """One subscription per customer for offers so limited; at most ``seats_per_customer``
    seats of an SMB suite across the customer's subscriptions with every partner."""
    if not any(
        line.sku.one_per_customer or line.sku.seats_per_customer is not None for line in lines
    ):
        return
    held = _held(world, customer, ("active", "suspended"))
    for line in lines:
        sku = line.sku
        if sku.one_per_customer:
            count = sum(1 for item_id, _ in held if item_id == sku.catalog_item_id)
            count += sum(1 for other in lines if other.sku is sku)
            if count > 1:
                raise invalid_input(
                    f"line {line.number}: {sku.title} is limited to one subscription per "
                    f"customer; this purchase would make {count}"
                )
        cap = sku.seats_per_customer
        if cap is not None:
            seats = _seats(held, lines, {sku.product_sku})
            if seats > cap:
                raise invalid_input(
                    f"line {line.number}: {sku.title} is capped at {cap} seats per customer "
                    f"across all its subscriptions and partners; this purchase would make {seats}"
                )


def _check_tenant_cap(world: World, customer: Customer, lines: list[Line]) -> None:
    """Microsoft Entra's per-tenant subscription limit: no new subscription past it."""
    limit = world.config.max_subscriptions_per_customer
    held = _held(world, customer, ("active", "suspended", "expired", "disabled"))
    if len(held) + len(lines) > limit:
        raise PartnerCenterError(
            800066,
            status=403,
            description=(
                f"The customer has reached the limit of {limit} subscriptions per customer: it "
                f"holds {len(held)} and this purchase adds {len(lines)}. Add licences to an "
                "existing subscription instead."
            ),
        )


def _check_sandbox(world: World, customer: Customer, lines: list[Line]) -> None:
    held = _held(world, customer, ("active", "suspended", "expired", "disabled"))
    if len(held) + len(lines) > SANDBOX_SUBSCRIPTIONS:
        raise PartnerCenterError(
            800018,
            f"{SANDBOX_SUBSCRIPTIONS} subscriptions per customer; the customer has {len(held)} "
            f"and this purchase adds {len(lines)}",
        )
    for line in lines:
        if line.quantity > SANDBOX_LICENSES:
            raise PartnerCenterError(
                800018, f"{SANDBOX_LICENSES} licenses per subscription (line {line.number})"
            )


def check_purchase(
    world: World,
    partner: Partner,
    customer: Customer,
    lines: list[Line],
    attestation: bool | None,
) -> None:
    if not has_mca(customer):
        raise PartnerCenterError(13605)
    for line in lines:
        if line.quantity_out_of_range():
            raise PartnerCenterError(900275, line.number)
    if any(line.error_code is not None for line in lines):
        raise PartnerCenterError(800009)
    for line in lines:
        if line.reseller:
            check_reseller(world, partner, line.reseller)
    if any(line.reseller for line in lines) and attestation is not True:
        raise PartnerCenterError(900206)
    for line in lines:
        _check_additional(world, partner, customer, line)
    _check_addons(world, customer, lines)
    _check_offer_caps(world, customer, lines)
    _check_tenant_cap(world, customer, lines)
    if world.config.sandbox_limits:
        _check_sandbox(world, customer, lines)


def place_order(
    world: World,
    partner: Partner,
    customer: Customer,
    lines: list[Line],
    cycle: str,
    end: date | None = None,
) -> Order:
    """Create one order for ``lines`` (already checked) and complete it now or when due;
    ``end``, when given, is the commitment end of every subscription it creates (a migration
    coterminous with the legacy term)."""
    now = world.now
    order = Order(
        id=world.hex_id(12),
        customer_id=customer.tenant_id,
        partner_id=partner.tenant_id,
        created_at=now,
        completes_at=now + world.config.order_provisioning,
        billing_cycle=cycle,
        lines=[
            OrderLine(
                number=line.number,
                catalog_item_id=line.sku.catalog_item_id,
                quantity=line.quantity,
                billing_cycle=line.cycle,
                term_duration=line.term,
                friendly_name=line.friendly_name,
                partner_id_on_record=line.reseller,
                additional_partner_ids=list(line.additional),
                provisioning_context=line.provisioning_context,
                subscription_id=world.guid(),
            )
            for line in lines
        ],
        total_price=round(
            sum(catalog.unit_price(x.sku, x.cycle, x.term) * x.quantity for x in lines), 2
        ),
        currency=catalog.currency(customer.country)[0],
    )
    world.add_order(order)
    if order.completes_at <= now:
        complete_order(world, order, end)
    else:
        world.clock.schedule(order.completes_at, _completion(world, order.id, end))
    return order


@event("purchases.completion")
def _completion(world: World, order_id: str, end: date | None) -> Handler:
    def fire() -> list[tuple[str, str]]:
        order = world.orders[order_id]
        if order.completed:
            return []
        complete_order(world, order, end)
        return [("orderCompleted", f"/customers/{order.customer_id}/orders/{order.id}")]

    return fire


KEY_ALPHABET = "BCDFGHJKMNPQRTVWXY2346789"


def product_key(world: World) -> str:
    """A Windows-style 25-character key from the world's seeded generator (replays stay
    byte for byte)."""
    chars = [world.rng.choice(KEY_ALPHABET) for _ in range(25)]
    return "-".join("".join(chars[i : i + 5]) for i in range(0, 25, 5))


def _base_end(world: World, customer_id: str, sku: Sku) -> date | None:
    """The end of the customer's active base subscription, of one of ``sku``'s prerequisite
    SKUs, that ends last (with any partner)."""
    items = catalog.load()
    ends = [
        s.commitment_end
        for s in world.subscriptions_by_customer.get(customer_id, [])
        if s.status == "active"
        and s.commitment_end is not None
        and (base := items.find(s.catalog_item_id)) is not None
        and base.product_sku in sku.prerequisites
    ]
    return max(ends, default=None)


def _term_end(
    world: World, order: Order, sku: Sku, line: OrderLine, end: date | None
) -> date | None:
    if line.term_duration is None:
        return None
    now = world.now
    own = lifecycle.term_end(now.date(), line.term_duration)
    if end is not None:
        return end
    base = _base_end(world, order.customer_id, sku) if sku.is_addon else None
    return base if base is not None and now.date() <= base <= own else own


def complete_order(world: World, order: Order, end: date | None = None) -> None:
    """Create the order's subscriptions: base offers first, so an add-on bought with its base
    aligns to it."""
    now = world.now
    items = catalog.load()
    skus: dict[int, Sku] = {}
    for line in order.lines:
        found = items.find(line.catalog_item_id)
        assert found is not None
        skus[line.number] = found
    for line in sorted(order.lines, key=lambda x: skus[x.number].is_addon):
        sku = skus[line.number]
        window = None if sku.is_perpetual else now + world.config.cancellation_window
        sub = Subscription(
            id=line.subscription_id,
            customer_id=order.customer_id,
            partner_tenant_id=order.partner_id,
            order_id=order.id,
            catalog_item_id=line.catalog_item_id,
            offer_name=sku.title,
            friendly_name=line.friendly_name or sku.title,
            quantity=line.quantity,
            billing_cycle=line.billing_cycle,
            term_duration=line.term_duration,
            created_at=now,
            effective_start=now,
            commitment_end=_term_end(world, order, sku, line, end),
            cancellation_until=window,
            seat_batches=[SeatBatch(line.quantity, window)] if window else [],
            partner_id_on_record=line.partner_id_on_record or "",
            additional_partner_ids=list(line.additional_partner_ids),
            product_type=sku.product_type,
            auto_renew=not sku.is_perpetual,
            is_trial=sku.is_trial,
            product_key=product_key(world) if sku.is_perpetual else None,
        )
        world.add_subscription(sub)
        lifecycle.schedule_term(world, sub)
    order.completed = True
