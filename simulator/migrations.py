"""Legacy CSP to new commerce migrations: validate, create, read (reference §8).

A legacy subscription (``simulator.legacy``, seeded through the control plane) moves to the NCE
offer whose SKU title is its ``offerName`` (case-insensitive, trials excluded): the seeded
legacy offers carry no NCE id, and a title is what a partner sees match in Partner Center.

``POST …/validate`` answers 200 with ``isEligible`` and either the NCE ``catalogItemId`` or
``errors[{code, description}]``; ``POST …/migrations/newcommerce`` refuses with the same codes as
a 400 (403 where Microsoft says so), and otherwise places an NCE order under the purchase rules
(``simulator.purchases``: MCA, partner of record, caps, sandbox) and answers 201 with the
migration. The migration is ``Processing`` until its order completes (``orderProvisioning``; at
once with ``PT0S``), then ``Completed`` with ``newCommerceSubscriptionId`` and
``newCommerceOrderId``, and the legacy subscription ends: it is suspended (the legacy way to
cancel), auto-renew off, and deleted 90 days later.

Eligibility, in order: the subscription must be this partner's subscription of this customer
(900224), a legacy one with an NCE path (NCE subscription: 900220; no equivalent offer: validate
``code 5`` as Microsoft's sample, create 900220), ``active`` (900215), not already being migrated
(900216), and more than 24 hours from its term end (900217). Create also checks the requested
``termDuration``/``billingCycle`` (900222), ``quantity`` (800002, the offer's range),
``addOnMigrations`` (900262: the simulator has no legacy add-ons, so none can be named) and
``customTermEndDate`` (900291: the end of a calendar month or of an active NCE subscription of
the customer, within the new term).

The new subscription ends with the legacy term (``purchaseFullTerm`` false, the default, on the
same term), or a full new term (``purchaseFullTerm`` true, or another term), or on
``customTermEndDate``.

LIMITATIONS:
- Create answers 201 (Microsoft's status is unconfirmed). Error descriptions are the simulator's
  own wording of each code's meaning; 900218 (promotions), 900219 (add-ons), 900221, 900223,
  900225, 900226 and 900247/900248 never occur.
- Not served: the list ``GET /v1/migrations/newcommerce``, migration events and schedules.
- Migrations are dropped by a reset with the world.
- The per-tenant subscription cap counts the new subscription before the legacy one ends.
- Education, government and non-profit legacy subscriptions migrate like commercial ones.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import Field, StrictBool, StrictInt, StrictStr

from simulator import catalog, legacy, lifecycle
from simulator.catalog import Sku
from simulator.clock import Handler, event
from simulator.context import customer_of, partner_of, world_of
from simulator.errors import PartnerCenterError, invalid_input
from simulator.models import Customer, Partner, Subscription
from simulator.purchases import Line, check_purchase, place_order
from simulator.wire import Inbound, body_as, day, iso, respond
from simulator.world import World

NO_EQUIVALENT = 5
MIN_TIME_LEFT = timedelta(hours=24)
DESCRIPTIONS = {
    NO_EQUIVALENT: "Subscription cannot be migrated to New Commerce because the equivalent offer "
    "is not yet available in New Commerce",
    900215: "Subscription {0} is not active and cannot be migrated to New Commerce.",
    900216: "Subscription {0} is already being migrated to New Commerce.",
    900217: "Subscription {0} ends in less than 24 hours and cannot be migrated to New Commerce.",
    900220: "Subscription {0} has no migration path to New Commerce: {1}",
    900222: "The term duration and billing cycle {0} are not offered for {1} in New Commerce; "
    "offered: {2}",
    900224: "Subscription {0} was not found for this customer and partner.",
    900262: "Add-on subscription {0} is not an add-on of subscription {1}.",
    900291: "customTermEndDate {0} must be the end of a calendar month or the end date of an "
    "active New Commerce subscription of the customer, after today and within the new term "
    "(ending {1}).",
}


@dataclass(slots=True)
class Migration:
    id: str
    customer_id: str
    partner_id: str
    legacy_id: str
    catalog_item_id: str
    quantity: int
    term: str
    cycle: str
    full_term: bool
    end: date
    order_id: str
    subscription_id: str
    started_at: datetime
    completed_at: datetime | None = None
    add_ons: list[dict[str, Any]] = field(default_factory=list)


class Refused(Exception):
    """An eligibility failure: validate lists it, create raises it as a Partner Center error."""

    def __init__(self, code: int, *args: object, status: int = 400) -> None:
        super().__init__(DESCRIPTIONS[code].format(*args))
        self.code, self.status, self.description = code, status, str(self)

    def error(self) -> PartnerCenterError:
        code = 900220 if self.code == NO_EQUIVALENT else self.code
        return PartnerCenterError(code, status=self.status, description=self.description)


def migrations(world: World) -> dict[str, Migration]:
    """The world's migrations by id (a reset's new world starts with none)."""
    return world.migrations


class ValidateIn(Inbound):
    current_subscription_id: StrictStr = Field(min_length=1)


class MigrationIn(Inbound):
    current_subscription_id: StrictStr = Field(min_length=1)
    term_duration: StrictStr | None = None
    billing_cycle: StrictStr | None = None
    purchase_full_term: StrictBool = False
    quantity: StrictInt | None = Field(default=None, ge=1)
    custom_term_end_date: date | None = None
    add_on_migrations: list[dict[str, Any]] = []


# -- rules -------------------------------------------------------------------------------------


def equivalent(sub: Subscription) -> Sku | None:
    title = sub.offer_name.strip().lower()
    return next(
        (
            sku
            for sku in catalog.load().by_item.values()
            if not sku.is_trial and not sku.is_perpetual and sku.title.lower() == title
        ),
        None,
    )


def eligible(
    world: World, partner: Partner, customer: Customer, sub_id: str
) -> tuple[Subscription, Sku]:
    """The legacy subscription and its NCE offer, or :class:`Refused` with the first reason."""
    sub = world.subscriptions.get(sub_id.lower())
    if (
        sub is None
        or sub.customer_id != customer.tenant_id
        or sub.partner_tenant_id != partner.tenant_id
    ):
        raise Refused(900224, sub_id)
    if not legacy.is_legacy(sub):
        raise Refused(900220, sub.id, "it is already a New Commerce subscription")
    sku = equivalent(sub)
    if sku is None:
        raise Refused(NO_EQUIVALENT)
    if sub.status != "active":
        raise Refused(900215, sub.id)
    if any(m.legacy_id == sub.id and m.completed_at is None for m in migrations(world).values()):
        raise Refused(900216, sub.id)
    assert sub.commitment_end is not None
    if lifecycle.midnight_after(sub.commitment_end) - world.now < MIN_TIME_LEFT:
        raise Refused(900217, sub.id)
    return sub, sku


def _term_and_cycle(body: MigrationIn, sub: Subscription, sku: Sku) -> tuple[str, str]:
    term = (body.term_duration or "P1Y").upper()
    cycle = (body.billing_cycle or sub.billing_cycle).lower()
    if not sku.offers(term, cycle):
        offered = ", ".join(f"{t}/{c}" for t, c in sku.terms)
        raise Refused(900222, f"{term}/{cycle}", sku.title, offered)
    return term, cycle


def _check_add_ons(body: MigrationIn, sub: Subscription) -> None:
    """The simulator has no legacy add-ons, so any add-on named is not one of ``sub``'s."""
    if body.add_on_migrations:
        first = body.add_on_migrations[0]
        raise Refused(900262, first.get("currentSubscriptionId", first), sub.id)


def _month_end(day_: date) -> bool:
    return day_.day == calendar.monthrange(day_.year, day_.month)[1]


def _end(world: World, body: MigrationIn, sub: Subscription, term: str) -> date:
    own = lifecycle.term_end(world.now.date(), term)
    wanted = body.custom_term_end_date
    if wanted is not None:
        ends = {
            s.commitment_end
            for s in world.subscriptions_by_customer.get(sub.customer_id, [])
            if s.status == "active" and not s.is_trial and not legacy.is_legacy(s)
        }
        if not (world.now.date() < wanted <= own and (_month_end(wanted) or wanted in ends)):
            raise Refused(900291, wanted.isoformat(), own.isoformat())
        return wanted
    assert sub.commitment_end is not None
    if body.purchase_full_term or term != sub.term_duration or sub.commitment_end > own:
        return own
    return sub.commitment_end


def create(world: World, partner: Partner, customer: Customer, body: MigrationIn) -> Migration:
    """Every check first, then the NCE order; nothing changes on a refusal."""
    try:
        sub, sku = eligible(world, partner, customer, body.current_subscription_id)
        term, cycle = _term_and_cycle(body, sub, sku)
        _check_add_ons(body, sub)
        end = _end(world, body, sub, term)
    except Refused as exc:
        raise exc.error() from None
    quantity = body.quantity or sub.quantity
    if not sku.minimum <= quantity <= sku.maximum:
        raise invalid_input(
            f"quantity {quantity} is outside {sku.title}'s range ({sku.minimum}-{sku.maximum})"
        )
    line = Line(number=0, sku=sku, quantity=quantity, term=term, cycle=cycle,
                friendly_name=sub.friendly_name, reseller=sub.partner_id_on_record or None)  # fmt: skip
    check_purchase(world, partner, customer, [line], attestation=True)
    migration = Migration(
        id=world.guid(), customer_id=customer.tenant_id, partner_id=partner.tenant_id,
        legacy_id=sub.id, catalog_item_id=sku.catalog_item_id, quantity=quantity, term=term,
        cycle=cycle, full_term=body.purchase_full_term, end=end, order_id="", subscription_id="",
        started_at=world.now,
    )  # fmt: skip
    migrations(world)[migration.id] = migration
    order = place_order(world, partner, customer, [line], cycle, end=end)
    migration.order_id, migration.subscription_id = order.id, order.lines[0].subscription_id
    if order.completed:
        _finish(world, migration)
    else:
        world.clock.schedule(order.completes_at, _completion(world, migration.id))
    return migration


def _finish(world: World, migration: Migration) -> None:
    """The NCE subscription exists: the legacy one is suspended, and deleted 90 days on."""
    migration.completed_at = world.now
    sub = world.subscriptions[migration.legacy_id]
    if sub.status == "active":
        sub.status, sub.status_since, sub.auto_renew = "suspended", world.now, False
        sub.version += 1
        world.clock.schedule(
            world.now + legacy.SUSPENDED_DELETE_AFTER, _deletion(world, sub.id, world.now)
        )


@event("migrations.completion")
def _completion(world: World, migration_id: str) -> Handler:
    def fire() -> list[tuple[str, str]]:
        migration = migrations(world).get(migration_id)
        if migration is None or migration.completed_at is not None:
            return []
        if world.orders[migration.order_id].completed:
            _finish(world, migration)
        return []

    return fire


@event("migrations.deletion")
def _deletion(world: World, sub_id: str, suspended_at: datetime) -> Handler:
    def fire() -> list[tuple[str, str]]:
        sub = world.subscriptions.get(sub_id)
        if sub is None or sub.status != "suspended" or sub.status_since != suspended_at:
            return []
        sub.status, sub.status_since = "deleted", world.now
        sub.version += 1
        return [("subscriptionDeleted", lifecycle.uri(sub))]

    return fire


def render(migration: Migration) -> dict[str, Any]:
    done = migration.completed_at is not None
    body: dict[str, Any] = {
        "id": migration.id,
        "startedTime": iso(migration.started_at),
        "currentSubscriptionId": migration.legacy_id,
        "status": "Completed" if done else "Processing",
        "customerTenantId": migration.customer_id,
        "catalogItemId": migration.catalog_item_id,
        "subscriptionEndDate": day(migration.end),
        "quantity": migration.quantity,
        "termDuration": migration.term,
        "billingCycle": migration.cycle.capitalize(),
        "purchaseFullTerm": migration.full_term,
        "addOnMigrations": migration.add_ons,
    }
    if migration.completed_at is not None:
        body["completedTime"] = iso(migration.completed_at)
        body["newCommerceSubscriptionId"] = migration.subscription_id
        body["newCommerceOrderId"] = migration.order_id
    body["attributes"] = {"objectType": "NewCommerceMigration"}
    return body


# -- handlers ----------------------------------------------------------------------------------


async def validate(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    body = await body_as(request, ValidateIn)
    out: dict[str, Any] = {"currentSubscriptionId": body.current_subscription_id}
    try:
        _, sku = eligible(world, partner, customer, body.current_subscription_id)
    except Refused as exc:
        if exc.code == 900224:
            raise exc.error() from None
        out.update(isEligible=False, errors=[{"code": exc.code, "description": exc.description}])
    else:
        out.update(isEligible=True, catalogItemId=sku.catalog_item_id)
    out["attributes"] = {"objectType": "NewCommerceEligibility"}
    return respond(out)


async def create_migration(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    body = await body_as(request, MigrationIn)
    return respond(render(create(world, partner, customer, body)), status=201)


async def get_migration(request: web.Request) -> web.Response:
    world, partner = world_of(request), partner_of(request)
    customer = customer_of(request)
    migration_id = request.match_info["migration"].lower()
    migration = migrations(world).get(migration_id)
    if (
        migration is None
        or migration.customer_id != customer.tenant_id
        or migration.partner_id != partner.tenant_id
    ):
        raise PartnerCenterError(
            1000, status=404, description=f"Migration {migration_id} was not found."
        )
    return respond(render(migration))


def add_routes(router: web.UrlDispatcher) -> None:
    base = "/v1/customers/{customer}/migrations/newcommerce"
    router.add_post(base + "/validate", validate)
    router.add_post(base, create_migration)
    router.add_get(base + "/{migration}", get_migration)
