"""The northbound HTTP API: thin handlers over the journal, the catalog and the workflows."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.northbound.operations import Problem
from contracts.openapi import Route, build
from gateway.api import (
    customers,
    export,
    legacy,
    operations,
    orders,
    resellers,
    subscriptions,
    transfers,
    upgrades,
)

ROUTES: list[Route] = [
    *orders.ROUTES,
    *subscriptions.ROUTES,
    *customers.ROUTES,
    *export.ROUTES,
    *resellers.ROUTES,
    *transfers.ROUTES,
    *legacy.ROUTES,
    *upgrades.ROUTES,
    *operations.ROUTES,
]


def openapi() -> dict[str, Any]:
    return build(ROUTES, title="Partner Center gateway", version="1", error=Problem)


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi())


def add_routes(router: web.UrlDispatcher) -> None:
    orders.add_routes(router)
    subscriptions.add_routes(router)
    customers.add_routes(router)
    export.add_routes(router)
    resellers.add_routes(router)
    transfers.add_routes(router)
    legacy.add_routes(router)
    upgrades.add_routes(router)
    operations.add_routes(router)
    router.add_get("/openapi.json", openapi_json)
