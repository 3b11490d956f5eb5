"""What a handler reaches through the request: the simulator, its world, the signed-in partner."""

from __future__ import annotations

import gc
import hmac
import secrets
from dataclasses import dataclass, field

from aiohttp import web

from simulator.errors import PartnerCenterError
from simulator.models import Customer, Partner
from simulator.settings import SimulatorSettings
from simulator.world import World, new_world


@dataclass(slots=True)
class Simulator:
    """The running simulator: settings, the current world, and the token-signing key (which
    outlives resets, so a client's token stays valid across ``POST /_sim/reset``)."""

    settings: SimulatorSettings
    world: World
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    token_cache: dict[str, tuple[str, float]] = field(default_factory=dict)

    @classmethod
    def start(cls, settings: SimulatorSettings) -> Simulator:
        return cls(settings, new_world(settings.clock_start, settings.seed))

    def reset(self, world: World | None = None) -> None:
        """Start again from the start state, or from ``world`` (a restored snapshot)."""
        self.world = (
            world if world is not None else new_world(self.settings.clock_start, self.settings.seed)
        )
        if self.settings.freeze_gc:
            gc.unfreeze()  # the old world is garbage now: let the collector see it once
            gc.collect()
            gc.freeze()

    def sign(self, payload: bytes) -> bytes:
        return hmac.digest(self.signing_key, payload, "sha256")


SIMULATOR = web.AppKey("simulator", Simulator)
PARTNER = web.RequestKey("partner", Partner)


def sim_of(request: web.Request) -> Simulator:
    return request.app[SIMULATOR]


def world_of(request: web.Request) -> World:
    return request.app[SIMULATOR].world


def partner_of(request: web.Request) -> Partner:
    return request[PARTNER]


def visible_customer(world: World, partner: Partner, customer_id: str) -> Customer:
    """The customer if this partner has a relationship with it. Microsoft answers 403 / 20002
    both for another partner's customer and for an id nobody knows, so a partner cannot probe
    which tenants exist."""
    customer = world.customers.get(customer_id.lower())
    if customer is None or partner.tenant_id not in customer.partners:
        raise PartnerCenterError(20002, partner.tenant_id, customer_id)
    return customer


def customer_of(request: web.Request) -> Customer:
    return visible_customer(world_of(request), partner_of(request), request.match_info["customer"])
