"""``POST …/subscriptions/{id}/upgrade``: an NCE upgrade (or a trial's conversion) as one
operation. The target offer is resolved through the catalog before anything is journaled, as
for ``POST /v1/orders``, so a bad plan code is a 400 with no operation behind it; whether the
subscription may move there is the operation's first step, read from Partner Center."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.northbound.operations import OperationView
from contracts.northbound.upgrades import Upgrade
from contracts.openapi import Route
from gateway.api.errors import ApiError, parse_body
from gateway.api.operations import KEY_HEADER, idempotency_key, submit
from gateway.api.subscriptions import BASE, ID
from gateway.catalog import LineRefused
from gateway.services import services
from gateway.upstream import UpstreamError

#: ``Catalog.resolve`` names fields as lines of an order; this request has one offer at its top.
_LINE = "lines[0]"


def _ids(request: web.Request) -> tuple[str, str]:
    customer, subscription = request.match_info["customer"], request.match_info["subscription"]
    for name, value in (("customer", customer), ("subscription", subscription)):
        if not ID.match(value):
            raise ApiError(400, "invalid_request", f"{name} id {value!r} is not an id", name)
    return customer, subscription


def _unlined(text: str) -> str:
    return text.replace(f"{_LINE}.", "").replace(f"{_LINE}: ", "")


async def _resolve(request: web.Request, upgrade: Upgrade) -> dict[str, Any]:
    """The target offer as ``{catalogItemId, termDuration, billingCycle, title}``. Without a
    quantity the seats are only known once the operation reads the subscription, so the
    offer's range is checked with one seat here and by Partner Center then."""
    svc = services(request)
    line = upgrade.model_dump(mode="json", by_alias=True, exclude_none=True)
    line["quantity"] = upgrade.quantity or 1
    try:
        offer = await svc.catalog.resolve(line, 0, svc.settings.catalog_country)
    except LineRefused as exc:
        raise ApiError(400, exc.code, _unlined(exc.message), _unlined(exc.field)) from None
    except UpstreamError as exc:
        raise ApiError(503, "partner_center_unavailable",
                       f"the catalog could not be read from Partner Center ({exc}); try again") from None  # fmt: skip
    return {k: offer[k] for k in ("catalogItemId", "termDuration", "billingCycle", "title")}


async def upgrade(request: web.Request) -> web.Response:
    customer, subscription = _ids(request)
    idempotency_key(request)  # refused before the catalog is read
    body = parse_body(await request.read(), Upgrade)
    payload = {
        "customerId": customer,
        "subscriptionId": subscription,
        **body.model_dump(mode="json", by_alias=True, exclude_none=True),
        "offer": await _resolve(request, body),
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
