"""Carts and checkout.

Creating or updating a cart checks only the shape, catalog ids, terms and quantities; a line that
cannot be bought carries an embedded ``error`` inside the 201 (Microsoft's cart error codes), and
checkout refuses the cart. The purchase rules (MCA, partner of record, attestation, EU/EFTA,
add-ons, sandbox) run at checkout (``simulator.purchases``). A cart expires 7 days after creation
(from that instant on it is 404 / 800008), and a cart never checked out reports ``cartExpired``.

LIMITATIONS:
- ``PUT`` answers 201 with the whole cart, as Microsoft's sample shows. It replaces the cart
  whole: an omitted ``partnerOnRecordAttestationAccepted`` is cleared, as an omitted line is.
- A malformed line (bad billing cycle 900269, bad term 800121, cycle longer than the term
  900270, unknown participant key 800002) refuses the whole request; only lines that are
  well-formed but can't be sold carry an embedded ``error``.
- At checkout a line error about quantity (10010 below the minimum, 10015 above the maximum)
  answers 900275; every other line error answers 800009.
- One order per ``orderGroup``; lines are grouped by billing cycle.
- No ``409 / 800064``: requests are handled one at a time, so two checkouts never overlap.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from simulator import catalog
from simulator.catalog import CYCLE_MONTHS, TERM_MONTHS, Sku
from simulator.clock import Handler, event
from simulator.context import customer_of, partner_of, world_of
from simulator.errors import PartnerCenterError, invalid_input
from simulator.models import Cart, CartLine, Customer, Partner
from simulator.orders import render_order
from simulator.purchases import SANDBOX_LICENSES, Line, check_purchase, place_order
from simulator.wire import Inbound, body_as, iso, link, respond
from simulator.world import World

PARTICIPANT_KEYS = (
    "transaction_reseller",
    "additional_transaction_reseller",
    "consumption_reseller",
)


class Participant(Inbound):
    key: str
    value: str


class CartLineIn(Inbound):
    id: int | None = None
    catalog_item_id: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    billing_cycle: str
    term_duration: str | None = None
    friendly_name: str | None = Field(default=None, max_length=250)
    participants: list[Participant] = []
    provisioning_context: dict[str, Any] = {}
    promotion_id: str | None = None


class CartIn(Inbound):
    line_items: list[CartLineIn] = Field(min_length=1)
    partner_on_record_attestation_accepted: bool | None = None


def _line_error(code: int, name: str, description: str) -> dict[str, Any]:
    return {"errorCode": code, "errorName": name, "errorDescription": description}


def _cycle_and_term(raw: CartLineIn, where: str) -> tuple[str, str | None]:
    """The line's billing cycle and term, normalised; a malformed or impossible pair is a 400
    (it is the request that is wrong, not the offer)."""
    cycle = raw.billing_cycle.lower().replace("onetime", "one_time")
    if cycle not in CYCLE_MONTHS:
        raise PartnerCenterError(
            900269, status=400,
            description=f"The billing cycle is invalid: {where}.billingCycle {raw.billing_cycle!r}",
        )  # fmt: skip
    term = raw.term_duration.upper() if raw.term_duration else None
    if term is not None and term not in TERM_MONTHS:
        raise PartnerCenterError(
            800121, status=400,
            description=f"The term duration provided is invalid: {where}.termDuration {term!r}",
        )  # fmt: skip
    if term is not None and CYCLE_MONTHS[cycle] > TERM_MONTHS[term]:
        raise PartnerCenterError(
            900270, status=400,
            description=f"The billing cycle cannot be longer than the term: {where} is {term}/{cycle}.",
        )  # fmt: skip
    return cycle, term


def _participants(raw: CartLineIn, where: str) -> list[tuple[str, str]]:
    keys = [p.key.lower() for p in raw.participants]
    for key in keys:
        if key not in PARTICIPANT_KEYS:
            raise invalid_input(
                f"{where}.participants: key {key!r} is not one of {', '.join(PARTICIPANT_KEYS)}"
            )
    if keys.count("transaction_reseller") > 1:
        raise invalid_input(f"{where}.participants: at most one transaction_reseller")
    return [(p.key.lower(), p.value.strip()) for p in raw.participants]


def _line_error_for(
    world: World, partner: Partner, raw: CartLineIn, sku: Sku | None, term: str | None, cycle: str
) -> dict[str, Any] | None:
    """The embedded error Microsoft puts on a line it can't sell, or None."""
    if sku is None:
        return _line_error(10001, "CatalogItemIdIsNotValid",
                           f"Catalog item {raw.catalog_item_id} is not valid.")  # fmt: skip
    if not sku.offers(term, cycle):
        offered = ", ".join(f"{t or 'none'}/{c}" for t, c in sku.terms)
        return _line_error(
            10001, "CatalogItemIdIsNotValid",
            f"{sku.title} is not offered as {term or 'none'}/{cycle}; offered: {offered}.",
        )  # fmt: skip
    if raw.quantity > sku.maximum:
        return _line_error(
            10015, "MaxAllowedSeatsPerSubscriptionExceeded",
            f"The quantity {raw.quantity} exceeds the maximum of {sku.maximum}.",
        )  # fmt: skip
    if raw.quantity < sku.minimum:
        return _line_error(10010, "InvalidInput",
                           f"The quantity {raw.quantity} is below the minimum of {sku.minimum}.")  # fmt: skip
    if raw.participants and partner.kind == "direct":
        return _line_error(10004, "ParticipantsIsNotSupportedForPartner",
                           "Participants are not supported for a direct partner.")  # fmt: skip
    if world.config.sandbox_limits and raw.quantity > SANDBOX_LICENSES:
        return _line_error(
            10009, "SandboxLimitExceeded",
            f"Sandbox accounts are limited to {SANDBOX_LICENSES} licenses per subscription.",
        )  # fmt: skip
    return None


def build_lines(world: World, partner: Partner, body: CartIn) -> list[CartLine]:
    items = catalog.load()
    lines: list[CartLine] = []
    groups: dict[str, str] = {}
    for index, raw in enumerate(body.line_items):
        where = f"lineItems[{index}]"
        cycle, term = _cycle_and_term(raw, where)
        participants = _participants(raw, where)
        sku = items.find(raw.catalog_item_id)
        lines.append(
            CartLine(
                id=index,
                catalog_item_id=sku.catalog_item_id if sku else raw.catalog_item_id,
                quantity=raw.quantity,
                billing_cycle=cycle,
                term_duration=term,
                friendly_name=raw.friendly_name,
                participants=participants,
                provisioning_context=raw.provisioning_context,
                order_group=groups.setdefault(cycle, str(len(groups))),
                error=_line_error_for(world, partner, raw, sku, term, cycle),
                promotion_id=raw.promotion_id,
            )
        )
    return lines


def render_cart(cart: Cart, user: str) -> dict[str, Any]:
    items = catalog.load()
    lines = []
    for line in cart.lines:
        sku = items.find(line.catalog_item_id)
        price = catalog.unit_price(sku, line.billing_cycle, line.term_duration) if sku else 0.0
        entry: dict[str, Any] = {
            "id": line.id,
            "catalogItemId": line.catalog_item_id,
            "friendlyName": line.friendly_name,
            "quantity": line.quantity,
            "currencyCode": "USD",
            "billingCycle": line.billing_cycle,
            "termDuration": line.term_duration,
            "participants": [{"key": k, "value": v} for k, v in line.participants],
            "provisioningContext": line.provisioning_context,
            "orderGroup": line.order_group,
            "pricing": {
                "listPrice": price,
                "discountedPrice": price,
                "proratedPrice": price,
                "price": price,
                "extendedPrice": round(price * line.quantity, 2),
            },
        }
        if line.error is not None:
            entry["error"] = line.error
        lines.append(entry)
    return {
        "id": cart.id,
        "creationTimestamp": iso(cart.created_at),
        "lastModifiedTimestamp": iso(cart.modified_at),
        "expirationTimestamp": iso(cart.expires_at),
        "lastModifiedUser": user,
        "status": cart.status,
        "partnerOnRecordAttestationAccepted": cart.attestation_accepted,
        "lineItems": lines,
        "links": {"self": link(f"/customers/{cart.customer_id}/carts/{cart.id}")},
        "attributes": {"objectType": "Cart"},
    }


def find_cart(world: World, customer: Customer, cart_id: str) -> Cart:
    cart = world.carts.get(cart_id.lower())
    if cart is None or cart.customer_id != customer.tenant_id or world.now >= cart.expires_at:
        raise PartnerCenterError(800008, cart_id)
    return cart


@event("carts.expiry")
def _expiry(world: World, cart_id: str) -> Handler:
    """Reports ``cartExpired`` when a cart that was never checked out reaches its expiry."""

    def fire() -> list[tuple[str, str]]:
        cart = world.carts.get(cart_id)
        if cart is None or cart.status != "Active":
            return []
        return [("cartExpired", f"/customers/{cart.customer_id}/carts/{cart.id}")]

    return fire


def purchase_lines(cart: Cart) -> list[Line]:
    items = catalog.load()
    lines = []
    for line in cart.lines:
        sku = items.find(line.catalog_item_id)
        if sku is None:  # an invalid line: carries its error, refused at checkout
            sku = next(iter(items.by_item.values()))
        lines.append(
            Line(
                number=line.id,
                sku=sku,
                quantity=line.quantity,
                term=line.term_duration,
                cycle=line.billing_cycle,
                friendly_name=line.friendly_name,
                reseller=next(
                    (v for k, v in line.participants if k == "transaction_reseller"), None
                ),
                additional=[
                    v for k, v in line.participants if k == "additional_transaction_reseller"
                ],
                provisioning_context=line.provisioning_context,
                error_code=None if line.error is None else int(line.error["errorCode"]),
            )
        )
    return lines


# -- handlers ----------------------------------------------------------------------------------


async def create_cart(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    body = await body_as(request, CartIn)
    lines = build_lines(world, partner, body)
    now = world.now
    cart = Cart(
        id=world.guid(),
        customer_id=customer.tenant_id,
        partner_id=partner.tenant_id,
        created_at=now,
        modified_at=now,
        expires_at=now + world.config.cart_expiry,
        lines=lines,
        attestation_accepted=body.partner_on_record_attestation_accepted,
    )
    world.carts[cart.id] = cart
    world.clock.schedule(cart.expires_at, _expiry(world, cart.id))
    return respond(render_cart(cart, partner.client_id), status=201)


async def get_cart(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    cart = find_cart(world, customer_of(request), request.match_info["cart"])
    return respond(render_cart(cart, partner.client_id))


async def put_cart(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    cart = find_cart(world, customer_of(request), request.match_info["cart"])
    if cart.status != "Active":
        raise PartnerCenterError(800065, cart.id)
    body = await body_as(request, CartIn)
    cart.lines = build_lines(world, partner, body)
    cart.attestation_accepted = body.partner_on_record_attestation_accepted
    cart.modified_at = world.now
    return respond(render_cart(cart, partner.client_id), status=201)


async def checkout(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    cart = find_cart(world, customer, request.match_info["cart"])
    if cart.status != "Active":
        raise PartnerCenterError(800065, cart.id)
    lines = purchase_lines(cart)
    check_purchase(world, partner, customer, lines, cart.attestation_accepted)
    groups: dict[str, list[Line]] = {}
    for cart_line, line in zip(cart.lines, lines, strict=True):
        groups.setdefault(cart_line.order_group, []).append(line)
    orders = [
        place_order(world, partner, customer, group, group[0].cycle) for group in groups.values()
    ]
    cart.status = "Ordered"
    cart.modified_at = world.now
    return respond(
        {
            "orders": [render_order(world, o) for o in orders],
            "orderErrors": [],
            "attributes": {"objectType": "CartCheckoutResult"},
        },
        status=201,
    )


def add_routes(router: web.UrlDispatcher) -> None:
    base = "/v1/customers/{customer}/carts"
    router.add_post(base, create_cart)
    router.add_get(base + "/{cart}", get_cart)
    router.add_put(base + "/{cart}", put_cart)
    router.add_post(base + "/{cart}/checkout", checkout)
