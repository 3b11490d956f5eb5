"""Legacy CSP license subscriptions: seeded through the control plane, changed under the legacy
rules; commercial ones never renewed.

Partner Center stopped selling legacy commercial offers (new orders NCE-only from 10 March 2022)
and stopped renewing them (from 11 July 2022, seed ``001_…``), so there is no ``/v1`` way to buy
one: ``POST /_sim/tenants/{tenantId}/legacy-subscriptions`` puts one in a partner's account, as if
bought before the cutover. It then reads like any subscription (``productType`` ``OnlineServices``,
a GUID ``offerId``) in ``GET /v1/customers/{c}/subscriptions[/{id}]``, and is changed with the
ordinary PATCH, under these rules:

- suspend (``status: "suspended"``) at any time: the legacy way to cancel; not billed while
  suspended; auto-renew turns off. 90 days after the suspension it becomes ``deleted`` (event
  ``subscriptionDeleted``) unless reactivated first;
- reactivate (``status: "active"``) at any time while suspended;
- seats up or down at any time while active (no 168-hour window, no ``refundableQuantity``);
- ``status: "deleted"`` → 400 / 800040: legacy subscriptions are suspended, not deleted;
- at term end a commercial one expires (event ``subscriptionExpired``) even with auto-renew on,
  then follows the expiry chain (``disabled`` after 30 days, ``deleted`` 90 days later); an
  ``education``, ``government`` or ``nonprofit`` one (``segment`` when seeding) still renews for a
  new term when auto-renew is on, as Microsoft still renews them (seed ``001_…``).

LIMITATIONS:
- A seeded subscription starts at the simulated now, for a P1Y term; its ``orderId`` (33 hex
  characters, legacy-shaped) names no order that ``GET …/orders`` lists.
- A subscription still suspended at term end stays ``suspended`` until its 90-day deletion
  (it is not billed, so its term ending changes nothing the API shows).
- Seats range from 1 to 10,000 for every legacy offer (the sandbox's 25-licence cap applies);
  legacy add-ons, upgrades (``…/upgrades``), conversions and legacy transfers are not modelled,
  (Microsoft's ``…/migrations/newcommerce`` API is ``simulator.migrations``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from aiohttp import web
from pydantic import Field, StrictInt, StrictStr

from simulator import lifecycle
from simulator.clock import Handler, event
from simulator.context import world_of
from simulator.errors import PartnerCenterError, sim_error
from simulator.models import Subscription
from simulator.wire import Inbound, bind, read_json, respond
from simulator.world import World

PRODUCT_TYPE = lifecycle.LEGACY_PRODUCT_TYPE
TERM = "P1Y"
SUSPENDED_DELETE_AFTER = timedelta(days=90)
MIN_SEATS, MAX_SEATS = 1, 10_000
GUID = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"


def is_legacy(sub: Subscription) -> bool:
    return sub.product_type == PRODUCT_TYPE


# -- rules (called from subscriptions.update, after its common checks) ----------------------------


def change_status(
    world: World,
    sub: Subscription,
    status: str,
    quantity: int,
    auto_renew: bool,
    name: str,
    por: str,
) -> None:
    """Suspend or reactivate; a legacy subscription is never deleted by the partner."""
    if status == "deleted":
        raise PartnerCenterError(
            800040,
            status=400,
            description=f"Asset status can't be changed to deleted from {sub.status}: "
            "legacy subscriptions are suspended, not deleted.",
        )
    if quantity != sub.quantity:
        raise PartnerCenterError(
            2001, status=400, description="Quantity can't be changed in the same request as status."
        )
    if (sub.status, status) not in (("active", "suspended"), ("suspended", "active")):
        raise PartnerCenterError(800040, status, sub.status)
    if status == "suspended":
        auto_renew = False
        world.clock.schedule(
            world.now + SUSPENDED_DELETE_AFTER, _deletion(world, sub.id, world.now)
        )
    sub.auto_renew = auto_renew
    sub.status, sub.status_since = status, world.now
    sub.friendly_name, sub.partner_id_on_record = name, por


def change_quantity(world: World, sub: Subscription, quantity: int) -> None:
    """Seats move freely both ways: legacy has no seat-reduction window."""
    if not MIN_SEATS <= quantity <= MAX_SEATS:
        raise PartnerCenterError(2002)
    if world.config.sandbox_limits and quantity > 25:
        raise PartnerCenterError(800018, "25 licenses per subscription")
    sub.quantity = quantity


@event("legacy.deletion")
def _deletion(world: World, sub_id: str, suspended_at: datetime) -> Handler:
    def fire() -> list[tuple[str, str]]:
        sub = world.subscriptions.get(sub_id)
        if sub is None or sub.status != "suspended" or sub.status_since != suspended_at:
            return []  # reactivated (or suspended again later) since
        sub.status, sub.status_since = "deleted", world.now
        sub.version += 1
        return [("subscriptionDeleted", lifecycle.uri(sub))]

    return fire


# -- control plane -----------------------------------------------------------------------------


class NewLegacySubscription(Inbound):
    partner_tenant_id: StrictStr
    offer_id: StrictStr = Field(pattern=GUID)
    offer_name: StrictStr = Field(min_length=1, max_length=256)
    quantity: StrictInt = Field(ge=MIN_SEATS, le=MAX_SEATS)
    billing_cycle: Literal["monthly", "annual"] = "monthly"
    #: Education, government and non-profit legacy subscriptions still renew (seed ``001_…``).
    segment: Literal["commercial", "education", "government", "nonprofit"] = "commercial"


def seed(world: World, tenant_id: str, body: NewLegacySubscription) -> Subscription:
    customer = world.customers.get(tenant_id.lower())
    if customer is None:
        raise sim_error(404, f"tenant {tenant_id} does not exist")
    partner = world.partners.get(body.partner_tenant_id.lower())
    if partner is None:
        raise sim_error(400, f"partnerTenantId {body.partner_tenant_id} is not a partner")
    if partner.tenant_id not in customer.partners:
        raise sim_error(
            400,
            f"partnerTenantId {partner.tenant_id} has no relationship with tenant "
            f"{customer.tenant_id}; accept one first (/_sim/tenants/{{id}}/accept-relationship)",
        )
    now = world.now
    start = datetime(now.year, now.month, now.day, tzinfo=UTC)
    sub = Subscription(
        id=world.guid(),
        customer_id=customer.tenant_id,
        partner_tenant_id=partner.tenant_id,
        order_id=world.hex_id(33),
        catalog_item_id=body.offer_id.upper(),
        offer_name=body.offer_name,
        friendly_name=body.offer_name,
        quantity=body.quantity,
        billing_cycle=body.billing_cycle,
        term_duration=TERM,
        created_at=now,
        effective_start=now,
        commitment_end=lifecycle.term_end(start.date(), TERM),
        cancellation_until=None,
        seat_batches=[],
        partner_id_on_record="",
        additional_partner_ids=[],
        product_type=PRODUCT_TYPE,
        segment=body.segment,
    )
    world.add_subscription(sub)
    lifecycle.schedule_term(world, sub)
    return sub


async def create_legacy_subscription(request: web.Request) -> web.Response:
    from simulator.subscriptions import render  # subscriptions imports this module

    world = world_of(request)
    try:
        body = bind(NewLegacySubscription, await read_json(request))
    except PartnerCenterError as exc:
        raise sim_error(400, exc.description.removeprefix("Invalid request input: ")) from None
    sub = seed(world, request.match_info["tenant"], body)
    return respond(render(sub, world.now), status=201)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/_sim/tenants/{tenant}/legacy-subscriptions", create_legacy_subscription)
