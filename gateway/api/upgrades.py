"""``POST …/subscriptions/{id}/upgrade``: an NCE upgrade (or a trial's conversion) as one
operation. The target offer is resolved through the catalog before anything is journaled, as
for ``POST /v1/orders``, so a bad plan code is a 400 with no operation behind it; whether the
subscription may move there is the operation's first step, read from Partner Center."""

from __future__ import annotations

from aiohttp import web

from contracts.northbound.operations import OperationView
from contracts.northbound.upgrades import Upgrade
from contracts.openapi import Route
from gateway.api.errors import parse_body
from gateway.api.offers import resolve_offer
from gateway.api.operations import KEY_HEADER, idempotency_key, submit
from gateway.api.subscriptions import BASE, subscription_ids
from gateway.api.tenancy import require_subscription


async def upgrade(request: web.Request) -> web.Response:
    customer, subscription = subscription_ids(request)
    idempotency_key(request)  # refused before the catalog is read
    body = parse_body(await request.read(), Upgrade)
    await require_subscription(request, customer, subscription)
    if body.to_subscription_id:  # the caller's too, or it answers as one that is not there
        await require_subscription(request, customer, body.to_subscription_id,
                                   field="toSubscriptionId")  # fmt: skip
    payload = {
        "customerId": customer,
        "subscriptionId": subscription,
        **body.model_dump(mode="json", by_alias=True, exclude_none=True),
        "offer": await resolve_offer(request, body, body.quantity),
    }
    return await submit(request, "upgrade", payload)


ROUTES: list[Route] = [
    Route("POST", BASE + "/upgrade",
          "Upgrade to a higher offer (all seats, some seats into a new coterminous subscription, "
          "or into an existing subscription), or convert a trial to its paid offer",
          OperationView, status=202, body=Upgrade,
          headers={KEY_HEADER: "any unique string; repeats find the same operation"},
          errors=(422, 503), tag="subscriptions"),
]  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(BASE + "/upgrade", upgrade)
