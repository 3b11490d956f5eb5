"""New-commerce transfers between partners.

The **target** partner, which already has the customer's relationship, creates the request; the
**source** partner sees it in the customer's transfer list and accepts it with ``PATCH {"status":
"Complete", "lineItems": [{"subscriptionId", "quantity"}]}``; the target can withdraw a pending
request with ``{"status": "Cancel"}``; a request nobody answers expires after 30 days.

On ``Complete`` (immediate) each listed subscription ends in the source's account — ``deleted``,
or reduced when only some seats move — and a new subscription with a new id, the same offer,
quantity, term and end date starts in the target's account, with ``partnerId`` set from the
transfer's ``partnerOnRecord``.

LIMITATIONS:
- The new subscription keeps the source's cancellation window and seat batches (no new window
  opens on a transfer); Microsoft does not document this.
- Only license-based subscriptions move (``OnlineServicesNCE`` and ``Software``); the other
  product types are accepted in ``targetProductTypes`` and have nothing to move.
- No notification e-mails; the source learns of a request by listing transfers.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import Field

from simulator import lifecycle, webhooks
from simulator.clock import Handler, event
from simulator.context import customer_of, partner_of, world_of
from simulator.errors import PartnerCenterError, invalid_input
from simulator.models import (
    Order,
    OrderLine,
    Partner,
    SeatBatch,
    Subscription,
    Transfer,
    TransferLine,
)
from simulator.purchases import check_reseller
from simulator.wire import Inbound, bind, body_as, collection, iso, link, read_json, respond
from simulator.world import World

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: What a new-commerce transfer moves; a legacy ("OnlineServices") subscription is refused.
TRANSFERABLE = ("OnlineServicesNCE", "Software")
PRODUCT_TYPES = ("AzureSubscription", "AzureReservation", "AzureSavingsPlan", "OnlineServicesNCE",
                 "Software", "SaaS")  # fmt: skip


class TransferIn(Inbound):
    source_partner_tenant_id: str = Field(min_length=1)
    source_partner_name: str = Field(min_length=1)
    customer_email_id: str = Field(pattern=EMAIL.pattern)
    customer_name: str | None = None
    target_partner_tenant_id: str | None = None
    target_partner_email_id: str | None = None
    target_product_types: list[str] | None = None
    partner_on_record: str | None = None
    transfer_type: int | None = None


class TransferLineIn(Inbound):
    subscription_id: str = Field(min_length=1)
    quantity: int | None = Field(default=None, ge=1)


class TransferPatch(Inbound):
    status: str
    line_items: list[TransferLineIn] = []


def render_transfer(transfer: Transfer, viewer: Partner) -> dict[str, Any]:
    return {
        "id": transfer.id,
        "status": transfer.status,
        "transferType": transfer.transfer_type,
        "customerEmailId": transfer.customer_email,
        "createdTime": iso(transfer.created_at),
        "lastModifiedTime": iso(transfer.modified_at),
        "completedTime": iso(transfer.completed_at),
        "expirationTime": iso(transfer.expires_at),
        "customerName": transfer.customer_name,
        "customerTenantId": transfer.customer_id,
        "partnertenantid": viewer.tenant_id,
        "sourcePartnerName": transfer.source_partner_name,
        "sourcePartnerTenantId": transfer.source_partner_id,
        "targetPartnerName": transfer.target_partner_name,
        "targetPartnerTenantId": transfer.target_partner_id,
        "targetPartnerEmailId": transfer.target_partner_email,
        "partnerOnRecord": transfer.partner_on_record,
        "targetProductTypes": transfer.target_product_types,
        "lineItems": [
            {
                "id": line.id,
                "subscriptionId": line.subscription_id,
                "quantity": line.quantity,
                "billingCycle": line.billing_cycle,
                "productType": line.product_type,
                "status": line.status,
                "transferredSubscriptionId": line.transferred_subscription_id,
            }
            for line in transfer.lines
        ],
        "links": {"self": link(f"/customers/{transfer.customer_id}/transfers/{transfer.id}")},
        "attributes": {"objectType": "TransferEntity"},
    }


def create_transfer(world: World, target: Partner, customer_id: str, body: TransferIn) -> Transfer:
    source = world.partners.get(body.source_partner_tenant_id.lower())
    customer = world.customers[customer_id]
    if source is None:
        raise invalid_input(
            f"sourcePartnerTenantId {body.source_partner_tenant_id} isn't a partner"
        )
    if source.tenant_id == target.tenant_id:
        raise invalid_input(
            "sourcePartnerTenantId is the caller; a transfer moves to another partner"
        )
    if source.tenant_id not in customer.partners:
        raise invalid_input(
            f"sourcePartnerTenantId {source.tenant_id} has no relationship with customer {customer_id}"
        )
    if body.target_partner_tenant_id and body.target_partner_tenant_id.lower() != target.tenant_id:
        raise invalid_input("targetPartnerTenantId must be the caller's own tenant id")
    if body.transfer_type not in (None, 3, 5):
        raise invalid_input("transferType must be 5 (NewCommerce) or 3")
    for kind in body.target_product_types or []:
        if kind not in PRODUCT_TYPES:
            raise invalid_input(
                f"targetProductTypes: {kind!r} is not one of {', '.join(PRODUCT_TYPES)}"
            )
    if body.partner_on_record:
        check_reseller(world, target, body.partner_on_record.strip())
    now = world.now
    transfer = Transfer(
        id=world.guid(),
        customer_id=customer_id,
        customer_name=body.customer_name or customer.company_name,
        customer_email=body.customer_email_id,
        source_partner_id=source.tenant_id,
        source_partner_name=body.source_partner_name,
        target_partner_id=target.tenant_id,
        target_partner_name=target.name,
        target_partner_email=body.target_partner_email_id,
        partner_on_record=body.partner_on_record.strip() if body.partner_on_record else None,
        target_product_types=body.target_product_types,
        transfer_type=body.transfer_type or 5,
        created_at=now,
        modified_at=now,
        expires_at=now + world.config.transfer_expiry,
    )
    world.transfers[transfer.id] = transfer
    world.clock.schedule(transfer.expires_at, _expire(world, transfer.id))
    return transfer


@event("transfers.expire")
def _expire(world: World, transfer_id: str) -> Handler:
    def fire() -> list[tuple[str, str]]:
        transfer = world.transfers.get(transfer_id)
        if transfer is None or transfer.status != "Pending":
            return []
        transfer.status = "Expired"
        transfer.modified_at = world.now
        return [("transferExpired", f"/customers/{transfer.customer_id}/transfers/{transfer.id}")]

    return fire


def find_transfer(world: World, partner: Partner, customer_id: str, transfer_id: str) -> Transfer:
    transfer = world.transfers.get(transfer_id.lower())
    if (
        transfer is None
        or transfer.customer_id != customer_id
        or partner.tenant_id not in (transfer.source_partner_id, transfer.target_partner_id)
    ):
        raise PartnerCenterError(900100, transfer_id)
    return transfer


def split_batches(batches: list[SeatBatch], moving: int) -> tuple[list[SeatBatch], list[SeatBatch]]:
    """Split seat batches between the seats that stay and the ``moving`` seats that go, the
    newest seats going first (as in a seat reduction)."""
    kept = [SeatBatch(b.quantity, b.until) for b in batches]
    moved: list[SeatBatch] = []
    for batch in reversed(kept):
        taken = min(batch.quantity, moving)
        if taken:
            batch.quantity -= taken
            moving -= taken
            moved.insert(0, SeatBatch(taken, batch.until))
    return [b for b in kept if b.quantity > 0], moved


def complete(
    world: World, partner: Partner, transfer: Transfer, lines: list[TransferLineIn]
) -> None:
    """Check every line, then move every line: nothing moves unless everything can."""
    if partner.tenant_id != transfer.source_partner_id:
        raise invalid_input("status: only the source partner can complete a transfer")
    if not lines:
        raise invalid_input("lineItems: list at least one subscription to transfer")
    moves: list[tuple[Subscription, int]] = []
    seen: set[str] = set()
    for index, raw in enumerate(lines):
        sub = world.subscriptions.get(raw.subscription_id.lower())
        if (
            sub is None
            or sub.customer_id != transfer.customer_id
            or sub.partner_tenant_id != transfer.source_partner_id
        ):
            raise PartnerCenterError(20003, raw.subscription_id)
        if sub.id in seen:
            raise invalid_input(f"lineItems[{index}]: subscription {sub.id} is listed twice")
        seen.add(sub.id)
        if sub.status not in ("active", "suspended"):
            raise invalid_input(f"lineItems[{index}]: subscription {sub.id} is {sub.status}")
        if sub.renewing_since is not None:
            raise PartnerCenterError(800082)
        if sub.product_type not in TRANSFERABLE:
            raise invalid_input(
                f"lineItems[{index}]: subscription {sub.id} is a legacy {sub.product_type} "
                "subscription; new-commerce transfers move only NCE subscriptions and software"
            )
        if transfer.target_product_types and sub.product_type not in transfer.target_product_types:
            raise invalid_input(
                f"lineItems[{index}]: {sub.product_type} is not among the transfer's targetProductTypes"
            )
        quantity = raw.quantity or sub.quantity
        if quantity > sub.quantity:
            raise invalid_input(
                f"lineItems[{index}].quantity {quantity} exceeds the subscription's {sub.quantity} seats"
            )
        moves.append((sub, quantity))
    now = world.now
    order = Order(
        id=world.hex_id(12),
        customer_id=transfer.customer_id,
        partner_id=transfer.target_partner_id,
        created_at=now,
        completes_at=now,
        billing_cycle=moves[0][0].billing_cycle,
        lines=[],
        total_price=0.0,
        transaction_type="SystemPurchase",
        completed=True,
    )
    for number, (sub, quantity) in enumerate(moves):
        kept_batches, moved_batches = split_batches(sub.seat_batches, quantity)
        moved = Subscription(
            id=world.guid(),
            customer_id=sub.customer_id,
            partner_tenant_id=transfer.target_partner_id,
            order_id=order.id,
            catalog_item_id=sub.catalog_item_id,
            offer_name=sub.offer_name,
            friendly_name=sub.friendly_name,
            quantity=quantity,
            billing_cycle=sub.billing_cycle,
            term_duration=sub.term_duration,
            created_at=now,
            effective_start=now,
            commitment_end=sub.commitment_end,
            cancellation_until=sub.cancellation_until,
            seat_batches=moved_batches,
            partner_id_on_record=transfer.partner_on_record or "",
            additional_partner_ids=[],
            product_type=sub.product_type,
            status=sub.status,
            auto_renew=sub.auto_renew,
            is_trial=sub.is_trial,
        )
        order.lines.append(
            OrderLine(
                number=number,
                catalog_item_id=sub.catalog_item_id,
                quantity=quantity,
                billing_cycle=sub.billing_cycle,
                term_duration=sub.term_duration,
                friendly_name=sub.friendly_name,
                partner_id_on_record=moved.partner_id_on_record or None,
                additional_partner_ids=[],
                provisioning_context={},
                subscription_id=moved.id,
                transaction_type="Transfer",
            )
        )
        if quantity == sub.quantity:
            sub.status, sub.status_since, sub.auto_renew = "deleted", now, False
            sub.seat_batches = []
        else:
            sub.quantity -= quantity
            sub.seat_batches = kept_batches
        sub.version += 1
        world.add_subscription(moved)
        lifecycle.schedule_term(world, moved)
        transfer.lines.append(
            TransferLine(
                id=number,
                subscription_id=sub.id,
                quantity=quantity,
                billing_cycle=sub.billing_cycle,
                product_type=sub.product_type,
                status="Complete",
                transferred_subscription_id=moved.id,
            )
        )
    world.add_order(order)
    transfer.status = "Complete"
    transfer.completed_at = transfer.modified_at = now


# -- handlers ----------------------------------------------------------------------------------


REQUIRED = ("sourcePartnerTenantId", "sourcePartnerName", "customerEmailId")


def read_transfer(raw: Any) -> TransferIn:
    """Bind a create body, naming every missing required field at once (in the wire's
    camelCase) rather than only the first one the model meets."""
    if isinstance(raw, dict):
        missing = [
            name
            for name in REQUIRED
            if not (isinstance(raw.get(name.lower()), str) and raw[name.lower()].strip())
        ]
        if missing:
            raise invalid_input(f"required field(s) missing or empty: {', '.join(missing)}")
        email = raw["customeremailid"]
        if not EMAIL.match(email):
            raise invalid_input(f"customerEmailId {email!r} is not an e-mail address")
    return bind(TransferIn, raw)


async def post_transfer(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    body = read_transfer(await read_json(request))
    transfer = create_transfer(world, partner, customer.tenant_id, body)
    _changed(request, webhooks.TRANSFER_CREATED, transfer)
    return respond(render_transfer(transfer, partner), status=201)


async def list_transfers(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    items = [
        render_transfer(t, partner)
        for t in world.transfers.values()
        if t.customer_id == customer.tenant_id
        and partner.tenant_id in (t.source_partner_id, t.target_partner_id)
    ]
    return respond(collection(items, request.path.removeprefix("/v1")))


async def get_transfer(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    transfer = find_transfer(world, partner, customer.tenant_id, request.match_info["transfer"])
    return respond(render_transfer(transfer, partner))


async def patch_transfer(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    transfer = find_transfer(world, partner, customer.tenant_id, request.match_info["transfer"])
    body = await body_as(request, TransferPatch)
    wanted = body.status.lower()
    if wanted not in ("complete", "cancel"):
        raise invalid_input(f"status must be Complete or Cancel, got {body.status!r}")
    if transfer.status != "Pending":
        raise PartnerCenterError(900104, transfer.id, transfer.status)
    if wanted == "cancel":
        if partner.tenant_id != transfer.target_partner_id:
            raise invalid_input(
                "status: only the target partner that created a transfer can cancel it"
            )
        transfer.status, transfer.modified_at = "Canceled", world.now
        _changed(request, webhooks.TRANSFER_UPDATED, transfer)
    else:
        complete(world, partner, transfer, body.line_items)
        _changed(request, webhooks.TRANSFER_COMPLETED, transfer)
    return respond(render_transfer(transfer, partner))


def _changed(request: web.Request, event_name: str, transfer: Transfer) -> None:
    webhooks.transfer_changed(request, event_name, transfer.source_partner_id,
                              transfer.target_partner_id, transfer.customer_id, transfer.id)  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    base = "/v1/customers/{customer}/transfers"
    router.add_post(base, post_transfer)
    router.add_get(base, list_transfers)
    router.add_get(base + "/{transfer}", get_transfer)
    router.add_patch(base + "/{transfer}", patch_transfer)
