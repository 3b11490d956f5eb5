"""All of the simulator's state, in one object that ``POST /_sim/reset`` replaces whole.

The world holds the domain (partners, customers, carts, orders, subscriptions, transfers), the
clock and its due events, the config, and the runtime records tests look at (faults, the request
journal, stored ``MS-RequestId`` answers, rate-limit windows). Ids come from a seeded generator,
so the same calls after a reset produce the same ids — recordings replay byte for byte.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.clock import SimClock
from simulator.models import Cart, Customer, Order, Partner, Subscription, Transfer

DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(slots=True)
class Config:
    """What ``GET/PUT /_sim/config`` shows; a reset restores these defaults."""

    renewal_processing: timedelta = timedelta(hours=6)
    order_provisioning: timedelta = timedelta(0)
    sandbox_limits: bool = False
    rate_limit_per_minute: int = 500
    cancellation_window: timedelta = timedelta(hours=168)
    transfer_expiry: timedelta = timedelta(days=30)
    cart_expiry: timedelta = timedelta(days=7)
    max_updates: int = 1200
    #: Microsoft Entra's per-tenant subscription limit (its number is unconfirmed): a purchase
    #: that would take a customer past it is 403 / 800066.
    max_subscriptions_per_customer: int = 250


@dataclass(slots=True)
class Stored:
    """The first successful answer to a POST, replayed for a repeat of its ``MS-RequestId``."""

    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True, frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    ms_request_id: str | None
    ms_correlation_id: str | None
    at: datetime


@dataclass(slots=True)
class DefaultPartner:
    tenant_id: str
    mpn_id: str
    name: str
    kind: str
    country: str
    domain: str
    client_id: str
    client_secret: str


#: The partners every world starts with, so a client can sign in right after start or reset.
DEFAULT_PARTNERS = (
    DefaultPartner(
        "4c2b1f3e-7d6a-4e5b-9c8d-000000000001", "1000001", "Contoso Distribution",
        "indirect_provider", "IT", "contosodistribution.onmicrosoft.com",
        "11111111-1111-4111-8111-111111111111", "provider-secret",
    ),
    DefaultPartner(
        "4c2b1f3e-7d6a-4e5b-9c8d-000000000002", "2000002", "Fabrikam Resellers",
        "indirect_reseller", "IT", "fabrikamresellers.onmicrosoft.com",
        "22222222-2222-4222-8222-222222222222", "reseller-secret",
    ),
    DefaultPartner(
        "4c2b1f3e-7d6a-4e5b-9c8d-000000000003", "3000003", "Northwind Direct",
        "direct", "US", "northwinddirect.onmicrosoft.com",
        "33333333-3333-4333-8333-333333333333", "direct-secret",
    ),
)  # fmt: skip


@dataclass(slots=True)
class World:
    config: Config
    clock: SimClock
    rng: random.Random
    partners: dict[str, Partner] = field(default_factory=dict)
    partners_by_mpn: dict[str, Partner] = field(default_factory=dict)
    partners_by_client: dict[str, Partner] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    customers_by_domain: dict[str, Customer] = field(default_factory=dict)
    carts: dict[str, Cart] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    subscriptions_by_customer: dict[str, list[Subscription]] = field(default_factory=dict)
    orders_by_customer: dict[str, list[Order]] = field(default_factory=dict)
    #: Rendered subscriptions by id: ((version, now), JSON bytes); bounded, see subscriptions.
    render_cache: dict[str, tuple[tuple[int, datetime], bytes]] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    #: ``transitions.Transition`` records (upgrades, conversions), oldest first.
    transitions: list[Any] = field(default_factory=list)
    #: ``migrations.Migration`` records by id (legacy to new commerce).
    migrations: dict[str, Any] = field(default_factory=dict)
    stored_answers: dict[tuple[str, str, str], Stored] = field(default_factory=dict)
    requests: deque[RequestRecord] = field(default_factory=lambda: deque(maxlen=10_000))
    faults: list[Any] = field(default_factory=list)
    rate_windows: dict[str, deque[float]] = field(default_factory=dict)
    #: Numbers fault ids apart from ``rng``, so adding a fault leaves later resource ids as
    #: they would be without it.
    faults_added: int = 0
    #: ``simulator.webhooks``: each partner's webhook registration, by partner tenant id.
    webhook_registrations: dict[str, Any] = field(default_factory=dict)
    #: ``simulator.webhooks``: the events sent (or being sent), oldest first; runtime only.
    webhook_deliveries: deque[Any] = field(default_factory=lambda: deque(maxlen=1000))

    # -- ids ----------------------------------------------------------------------------------

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex_id(self, length: int = 12) -> str:
        return f"{self.rng.getrandbits(length * 4):0{length}x}"

    def digits(self, length: int = 7) -> str:
        return str(self.rng.randrange(10 ** (length - 1), 10**length))

    def secret(self, length: int = 12) -> str:
        alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789=;.!"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    # -- registration -------------------------------------------------------------------------

    def add_partner(self, partner: Partner) -> None:
        self.partners[partner.tenant_id] = partner
        self.partners_by_mpn[partner.mpn_id] = partner
        self.partners_by_client[partner.client_id] = partner

    def add_customer(self, customer: Customer) -> None:
        self.customers[customer.tenant_id] = customer
        self.customers_by_domain[customer.domain.lower()] = customer
        self.subscriptions_by_customer.setdefault(customer.tenant_id, [])

    def add_order(self, order: Order) -> None:
        self.orders[order.id] = order
        self.orders_by_customer.setdefault(order.customer_id, []).append(order)

    def add_subscription(self, subscription: Subscription) -> None:
        self.subscriptions[subscription.id] = subscription
        self.subscriptions_by_customer.setdefault(subscription.customer_id, []).append(subscription)

    @property
    def now(self) -> datetime:
        return self.clock.now


def new_world(start: datetime = DEFAULT_START, seed: int = 0) -> World:
    """A world in its start state: the default partners, the reseller already related to the
    provider with its MPA signed, the clock at ``start``."""
    world = World(config=Config(), clock=SimClock(start), rng=random.Random(seed))
    provider_id = DEFAULT_PARTNERS[0].tenant_id
    for d in DEFAULT_PARTNERS:
        partner = Partner(
            tenant_id=d.tenant_id, mpn_id=d.mpn_id, name=d.name, kind=d.kind,
            country=d.country, domain=d.domain, client_id=d.client_id,
            client_secret=d.client_secret, mpa_signed=True,
        )  # fmt: skip
        if d.kind == "indirect_reseller":
            partner.accepted_providers[provider_id] = start
        world.add_partner(partner)
    return world
