"""What the gateway's handlers and workers share, built once per app in ``app.py``."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from gateway.catalog import Catalog
from gateway.clock import Clock
from gateway.journal import Journal
from gateway.settings import GatewaySettings
from gateway.upstream import PartnerCenter
from gateway.worker import Workers
from gateway.workflows.engine import Caches


@dataclass(slots=True)
class Services:
    settings: GatewaySettings
    journal: Journal
    pc: PartnerCenter
    workers: Workers
    caches: Caches
    catalog: Catalog
    clock: Clock
    #: For northbound reads: the same Partner Center, but retries that give up within seconds
    #: (a throttled or failing upstream answers the caller 503 at once instead of holding the
    #: request for a Retry-After meant for a background step).
    reads: PartnerCenter


@dataclass(slots=True)
class Holder:
    """Filled when the app starts (resources open in ``cleanup_ctx``, after the app is frozen)."""

    services: Services | None = None


SERVICES = web.AppKey("services", Holder)


def services(request: web.Request) -> Services:
    held = request.app[SERVICES].services
    if held is None:
        raise RuntimeError("the gateway's resources are not open (the app has not started)")
    return held
