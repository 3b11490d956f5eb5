"""``POST …/subscriptions/{id}/move-to-nce``: a legacy CSP subscription moved to NCE as one
operation. The NCE offer is resolved through the catalog before anything is journaled (as for
``POST /v1/orders``), so a bad plan code is a 400 with no operation behind it; whether the
subscription is legacy and active is the operation's first step, read from Partner Center."""

from __future__ import annotations

from aiohttp import web

from contracts.northbound.legacy import MigrateToNce, MoveToNce
from contracts.northbound.operations import OperationView
from contracts.openapi import Route
from gateway.api.errors import parse_body
from gateway.api.offers import resolve_offer
from gateway.api.operations import KEY_HEADER, idempotency_key, submit
from gateway.api.subscriptions import BASE, subscription_ids
from gateway.api.tenancy import require_subscription


async def move_to_nce(request: web.Request) -> web.Response:
    customer, subscription = subscription_ids(request)
    idempotency_key(request)  # refused before the catalog is read
    move = parse_body(await request.read(), MoveToNce)
    await require_subscription(request, customer, subscription)
    payload = {
        "customerId": customer,
        "subscriptionId": subscription,
        **move.model_dump(mode="json", by_alias=True, exclude_none=True),
        "offer": await resolve_offer(request, move, move.quantity),
    }
    return await submit(request, "legacy_move", payload)


async def migrate_to_nce(request: web.Request) -> web.Response:
    customer, subscription = subscription_ids(request)
    move = parse_body(await request.read() or b"{}", MigrateToNce)
    await require_subscription(request, customer, subscription)
    payload = {
        "customerId": customer,
        "subscriptionId": subscription,
        **move.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    return await submit(request, "legacy_migration", payload)


ROUTES: list[Route] = [
    Route("POST", BASE + "/move-to-nce",
          "Move a legacy CSP subscription to NCE: buy the NCE subscription, then suspend the "
          "legacy one (never neither)", OperationView, status=202, body=MoveToNce,
          headers={KEY_HEADER: "any unique string; repeats find the same operation"},
          errors=(422, 503), tag="subscriptions"),
    Route("POST", BASE + "/migrate-to-nce",
          "Move a legacy CSP subscription by Microsoft's migration API (Partner Center creates the "
          "NCE subscription and ends the legacy one)", OperationView, status=202, body=MigrateToNce,
          headers={KEY_HEADER: "any unique string; repeats find the same operation"},
          errors=(422,), tag="subscriptions"),
]  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(BASE + "/move-to-nce", move_to_nce)
    router.add_post(BASE + "/migrate-to-nce", migrate_to_nce)
