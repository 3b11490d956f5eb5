"""Orders: reads, provisioning status, and a direct ``POST …/orders`` without a cart (the same
purchase rules as a checkout, ``simulator.purchases``).

An order is ``pending`` until ``orderProvisioning`` has passed on the simulated clock, then
``completed`` with its subscription ids.

LIMITATIONS:
- Orders show in the list at once (Microsoft may take up to 15 minutes).
- A direct order has nowhere to embed a cart line error, so a line it can't sell is the 400
  itself: an unknown ``offerId``, an offer not sold on that term and billing cycle, or a missing
  ``termDuration`` is 400 / 800002 naming the line (Microsoft's code is unconfirmed); a bad
  ``billingCycle`` is 900269, a bad term 800121, a cycle longer than the term 900270, a quantity
  outside the offer's range 900275.
- ``referenceCustomerId``, when sent, must be the customer in the path (400 / 800002);
  ``lineItemNumber`` values must be unique.
- ``PATCH …/orders/{id}`` (cancelling a pending legacy order) is not served.
- A perpetual licence's one-use product key (seed ``004_…``: "provisioning generates a key that
  can be used only once") is shown as ``productKey`` on its completed order line and on its
  ``provisioningstatus`` item, a simulator field: Microsoft delivers software keys through its
  entitlements API, which the simulator does not serve. The key's single activation is not
  modelled, and returns of perpetual licences happen through the distributor's service desk,
  not the API.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from simulator import catalog
from simulator.context import customer_of, partner_of, world_of
from simulator.errors import PartnerCenterError, invalid_input
from simulator.models import Customer, Order, Partner
from simulator.purchases import Line, check_purchase, place_order
from simulator.wire import Inbound, body_as, collection, iso, link, query_one, respond
from simulator.world import World


class OrderLineIn(Inbound):
    line_item_number: int = Field(ge=0)
    offer_id: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    term_duration: str | None = None
    friendly_name: str | None = None
    partner_id_on_record: str | None = None
    additional_partner_ids_on_record: list[str] = []
    provisioning_context: dict[str, Any] = {}


class OrderIn(Inbound):
    reference_customer_id: str | None = None
    billing_cycle: str
    partner_on_record_attestation_accepted: bool | None = None
    line_items: list[OrderLineIn] = Field(min_length=1)


def render_order(world: World, order: Order) -> dict[str, Any]:
    completed = order.completed
    base = f"/customers/{order.customer_id}/orders/{order.id}"
    lines = []
    for line in order.lines:
        sku = catalog.load().find(line.catalog_item_id)
        price = catalog.unit_price(sku, line.billing_cycle, line.term_duration) if sku else 0.0
        product, sku_id, availability = line.catalog_item_id.split(":")
        entry: dict[str, Any] = {
            "lineItemNumber": line.number,
            "offerId": line.catalog_item_id,
        }
        if completed:
            entry["subscriptionId"] = line.subscription_id
            key = _product_key(world, line.subscription_id)
            if key:
                entry["productKey"] = key
        entry.update(
            {
                "termDuration": line.term_duration,
                "transactionType": line.transaction_type,
                "friendlyName": line.friendly_name or (sku.title if sku else ""),
                "quantity": line.quantity,
                "partnerIdOnRecord": line.partner_id_on_record,
                "additionalPartnerIdsOnRecord": line.additional_partner_ids,
                "provisioningContext": line.provisioning_context,
                "pricing": {
                    "listPrice": price,
                    "discountedPrice": price,
                    "price": price,
                    "extendedPrice": round(price * line.quantity, 2),
                },
                "links": {
                    "product": link(f"/products/{product}"),
                    "sku": link(f"/products/{product}/skus/{sku_id}"),
                    "availability": link(
                        f"/products/{product}/skus/{sku_id}/availabilities/{availability}"
                    ),
                    **(
                        {
                            "subscription": link(
                                f"/customers/{order.customer_id}/subscriptions/{line.subscription_id}"
                            )
                        }
                        if completed
                        else {}
                    ),
                },
            }
        )
        lines.append(entry)
    currency, symbol = catalog.currency(world.customers[order.customer_id].country)
    return {
        "id": order.id,
        "alternateId": order.id,
        "referenceCustomerId": order.customer_id,
        "billingCycle": order.billing_cycle,
        "currencyCode": currency,
        "currencySymbol": symbol,
        "lineItems": lines,
        "creationDate": iso(order.created_at),
        "status": "completed" if completed else "pending",
        "transactionType": order.transaction_type,
        "totalPrice": order.total_price,
        "links": {
            "provisioningStatus": link(f"{base}/provisioningstatus"),
            "patchOperation": link(base, "PATCH"),
            "self": link(base),
        },
        "attributes": {"objectType": "Order"},
    }


def _product_key(world: World, subscription_id: str) -> str | None:
    sub = world.subscriptions.get(subscription_id)
    return sub.product_key if sub is not None else None


def find_order(world: World, customer_id: str, partner_id: str, order_id: str) -> Order:
    order = world.orders.get(order_id.lower())
    if order is None or order.customer_id != customer_id or order.partner_id != partner_id:
        raise PartnerCenterError(20000, order_id)
    return order


async def list_orders(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    billing = (query_one(request, "billingType") or "").lower()
    items = [
        render_order(world, o)
        for o in world.orders_by_customer.get(customer.tenant_id, [])
        if o.partner_id == partner.tenant_id
        and (not billing or o.billing_cycle == billing or billing == "license")
    ]
    return respond(collection(items, request.path_qs.removeprefix("/v1")))


async def get_order(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    order = find_order(world, customer.tenant_id, partner.tenant_id, request.match_info["order"])
    return respond(render_order(world, order))


async def provisioning_status(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    order = find_order(world, customer.tenant_id, partner.tenant_id, request.match_info["order"])
    status = "fulfilled" if order.completed else "PrefulfillmentPending"
    items = []
    for line in order.lines:
        item: dict[str, Any] = {
            "orderLineItemId": line.number,
            "lineItemNumber": line.number,
            "status": status,
            "quantityProvisioningInformation": [{"quantity": line.quantity, "status": status}],
        }
        key = _product_key(world, line.subscription_id) if order.completed else None
        if key:
            item["productKey"] = key
        items.append(item)
    return respond(collection(items, request.path.removeprefix("/v1")))


def _order_line(partner: Partner, index: int, raw: OrderLineIn, cycle: str) -> Line:
    """One direct-order line, checked for shape and offer as a cart line is; a direct order has
    nowhere to embed a line error, so each problem is the 400 itself."""
    where = f"lineItems[{index}]"
    sku = catalog.load().find(raw.offer_id)
    if sku is None:
        raise invalid_input(f"{where}.offerId {raw.offer_id} is not a catalog item")
    term = raw.term_duration.upper() if raw.term_duration else None
    if term is not None and term not in catalog.TERM_MONTHS:
        raise PartnerCenterError(
            800121, status=400,
            description=f"The term duration provided is invalid: {where}.termDuration {term!r}",
        )  # fmt: skip
    if term is not None and catalog.CYCLE_MONTHS[cycle] > catalog.TERM_MONTHS[term]:
        raise PartnerCenterError(
            900270, status=400,
            description=f"The billing cycle cannot be longer than the term: {where} is {term}/{cycle}.",
        )  # fmt: skip
    if not sku.offers(term, cycle):
        offered = ", ".join(f"{t or 'none'}/{c}" for t, c in sku.terms)
        missing = "termDuration is required; " if term is None and not sku.is_perpetual else ""
        raise invalid_input(
            f"{where}: {missing}{sku.title} is not offered as {term or 'none'}/{cycle}; "
            f"offered: {offered}"
        )
    if partner.kind == "direct" and (
        raw.partner_id_on_record or raw.additional_partner_ids_on_record
    ):
        raise invalid_input(f"{where}: a direct partner can't name partners on record")
    return Line(
        number=raw.line_item_number,
        sku=sku,
        quantity=raw.quantity,
        term=term,
        cycle=cycle,
        friendly_name=raw.friendly_name,
        reseller=(raw.partner_id_on_record or "").strip() or None,
        additional=[a.strip() for a in raw.additional_partner_ids_on_record],
        provisioning_context=raw.provisioning_context,
    )


def order_lines(partner: Partner, customer: Customer, body: OrderIn) -> tuple[list[Line], str]:
    if body.reference_customer_id and body.reference_customer_id.lower() != customer.tenant_id:
        raise invalid_input(
            f"referenceCustomerId {body.reference_customer_id} is not the customer in the path"
        )
    cycle = body.billing_cycle.lower().replace("onetime", "one_time")
    if cycle not in catalog.CYCLE_MONTHS:
        raise PartnerCenterError(
            900269, status=400,
            description=f"The billing cycle is invalid: billingCycle {body.billing_cycle!r}",
        )  # fmt: skip
    numbers = [raw.line_item_number for raw in body.line_items]
    if len(set(numbers)) != len(numbers):
        raise invalid_input(f"lineItems: each lineItemNumber must be unique, got {numbers}")
    lines = [_order_line(partner, i, raw, cycle) for i, raw in enumerate(body.line_items)]
    return lines, cycle


async def create_order(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    body = await body_as(request, OrderIn)
    lines, cycle = order_lines(partner, customer, body)
    check_purchase(world, partner, customer, lines, body.partner_on_record_attestation_accepted)
    order = place_order(world, partner, customer, lines, cycle)
    return respond(render_order(world, order), status=201)


def add_routes(router: web.UrlDispatcher) -> None:
    base = "/v1/customers/{customer}/orders"
    router.add_get(base, list_orders)
    router.add_post(base, create_order)
    router.add_get(base + "/{order}", get_order)
    router.add_get(base + "/{order}/provisioningstatus", provisioning_status)
