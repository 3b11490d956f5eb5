"""The northbound HTTP API: thin handlers over the journal, the catalog and the workflows."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.northbound.operations import Problem
from contracts.openapi import Route, build
from gateway import metrics
from gateway.api import (
    customers,
    export,
    legacy,
    operations,
    orders,
    resellers,
    subscriptions,
    transfers,
    ui,
    upgrades,
    webhooks,
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
    *webhooks.ROUTES,
]


#: Either header carries the same key (``pcgw keys create <marketplace>``).
SECURITY = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "The marketplace's API key: `Authorization: Bearer pcgw_…`"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key",
               "description": "The same key in a header of its own"},
}  # fmt: skip


def openapi() -> dict[str, Any]:
    document = build(
        ROUTES, title="Partner Center gateway", version="1", error=Problem, security=SECURITY
    )
    refused = {
        "description": "No valid API key (missing, unknown, rotated or revoked); "
        "`WWW-Authenticate: Bearer`",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for methods in document["paths"].values():
        for op in methods.values():
            op["responses"].setdefault("401", refused)
    return document


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
    router.add_get("/metrics", metrics.scrape)
    ui.add_routes(router)
    webhooks.add_routes(router)
