"""The rules a purchase must pass, and what a purchase creates: orders, then subscriptions.

Both a cart checkout and a direct ``POST …/orders`` come here. Every rule runs before anything is
created, in this order: the customer's MCA (403 / 13605); quantities above the offer's maximum
(900275); lines with errors (800009); the reseller of record on each line (800015, 2072, 800016,
900123); the partner-of-record attestation (900206, only when a line names a reseller); EU/EFTA
additional resellers (800002); add-on rules (800002); sandbox limits (800018).

An order is ``completed`` once ``orderProvisioning`` has passed on the simulated clock (at once
with the default ``PT0S``); only then do its subscriptions exist.

LIMITATIONS:
- Every line of a purchase succeeds or the whole purchase is refused: no ``partial success``
  orders and no ``orderErrors`` entries.
- Prices are list prices; no promotions, no proration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator import catalog, lifecycle
from simulator.agreements import has_mca
from simulator.catalog import EU_EFTA, Sku
from simulator.clock import Handler
from simulator.errors import PartnerCenterError, invalid_input
from simulator.models import Customer, Order, OrderLine, Partner, SeatBatch, Subscription
from simulator.world import World

MAX_ADDITIONAL_RESELLERS = 5


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
    has_error: bool = False


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


def _base_seats(world: World, customer: Customer, lines: list[Line], prerequisites: set[str],
                multi_geo: bool) -> int:  # fmt: skip
    """Eligible base seats across every partner's live subscriptions plus this purchase."""
    items = catalog.load()
    total = 0
    for sub in world.subscriptions_by_customer.get(customer.tenant_id, []):
        sku = items.find(sub.catalog_item_id)
        if sub.status in ("active", "suspended") and sku and sku.product_sku in prerequisites:
            total += sub.quantity if (sku.multi_geo_base or not multi_geo) else 0
    total += sum(line.quantity for line in lines if line.sku.product_sku in prerequisites)
    return total


def _check_addons(world: World, customer: Customer, lines: list[Line]) -> None:
    for line in lines:
        rule = line.sku.addon_rule
        if rule is None:
            continue
        prerequisites = set(line.sku.prerequisites)
        base = _base_seats(world, customer, lines, prerequisites, rule == "multigeo")
        if rule == "copilot":
            existing = sum(
                s.quantity
                for s in world.subscriptions_by_customer.get(customer.tenant_id, [])
                if s.catalog_item_id == line.sku.catalog_item_id and s.status == "active"
            )
            wanted = existing + sum(x.quantity for x in lines if x.sku is line.sku)
            if wanted > base:
                raise invalid_input(
                    f"line {line.number}: {line.sku.title} seats ({wanted}) can't exceed the "
                    f"customer's eligible base seats ({base}), counted across all partners"
                )
        elif rule == "multigeo":
            minimum = max(1, math.ceil(base * 0.05))
            if base == 0 or line.quantity < minimum:
                raise invalid_input(
                    f"line {line.number}: {line.sku.title} needs at least 5% of the customer's "
                    f"eligible base seats ({base}), so at least {minimum}"
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
        if line.quantity > line.sku.maximum:
            raise PartnerCenterError(900275, line.number)
    if any(line.has_error for line in lines):
        raise PartnerCenterError(800009)
    for line in lines:
        if line.reseller:
            check_reseller(world, partner, line.reseller)
    if any(line.reseller for line in lines) and attestation is not True:
        raise PartnerCenterError(900206)
    for line in lines:
        _check_additional(world, partner, customer, line)
    _check_addons(world, customer, lines)
    if world.config.sandbox_limits:
        live = sum(
            1
            for s in world.subscriptions_by_customer.get(customer.tenant_id, [])
            if s.status != "deleted"
        )
        if live + len(lines) > 5:
            raise PartnerCenterError(800018, "5 subscriptions per customer")
        if any(line.quantity > 25 for line in lines):
            raise PartnerCenterError(800018, "25 licenses per subscription")


def place_order(
    world: World, partner: Partner, customer: Customer, lines: list[Line], cycle: str
) -> Order:
    """Create one order for ``lines`` (already checked) and complete it now or when due."""
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
    world.orders[order.id] = order
    if order.completes_at <= now:
        complete_order(world, order)
    else:
        world.clock.schedule(order.completes_at, _completion(world, order.id))
    return order


def _completion(world: World, order_id: str) -> Handler:
    def fire() -> list[tuple[str, str]]:
        order = world.orders[order_id]
        if order.completed:
            return []
        complete_order(world, order)
        return [("orderCompleted", f"/customers/{order.customer_id}/orders/{order.id}")]

    return fire


def complete_order(world: World, order: Order) -> None:
    now = world.now
    items = catalog.load()
    for line in order.lines:
        sku = items.find(line.catalog_item_id)
        assert sku is not None
        start = datetime(now.year, now.month, now.day, tzinfo=UTC)
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
            commitment_end=None
            if line.term_duration is None
            else lifecycle.term_end(start.date(), line.term_duration),
            cancellation_until=window,
            seat_batches=[SeatBatch(line.quantity, window)] if window else [],
            partner_id_on_record=line.partner_id_on_record or "",
            additional_partner_ids=list(line.additional_partner_ids),
            product_type=sku.product_type,
            auto_renew=not sku.is_perpetual,
            is_trial=sku.is_trial,
        )
        world.add_subscription(sub)
        lifecycle.schedule_term(world, sub)
    order.completed = True
