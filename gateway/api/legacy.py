"""``POST …/subscriptions/{id}/move-to-nce``: a legacy CSP subscription moved to NCE as one
operation. The NCE offer is resolved through the catalog before anything is journaled (as for
``POST /v1/orders``), so a bad plan code is a 400 with no operation behind it; whether the
subscription is legacy and active is the operation's first step, read from Partner Center."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.northbound.legacy import MigrateToNce, MoveToNce
from contracts.northbound.operations import OperationView
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


async def _resolve(request: web.Request, move: MoveToNce) -> dict[str, Any]:
    """The NCE offer as ``{catalogItemId, termDuration, billingCycle, title}``. Without a
    quantity the legacy seats are only known once the operation reads them, so the offer's
    range is checked then."""
    svc = services(request)
    line = move.model_dump(mode="json", by_alias=True, exclude_none=True)
    line["quantity"] = move.quantity or 1
    try:
        offer = await svc.catalog.resolve(line, 0, svc.settings.catalog_country)
    except LineRefused as exc:
        raise ApiError(400, exc.code, _unlined(exc.message), _unlined(exc.field)) from None
    except UpstreamError as exc:
        raise ApiError(503, "partner_center_unavailable",
                       f"the catalog could not be read from Partner Center ({exc}); try again") from None  # fmt: skip
    return {k: offer[k] for k in ("catalogItemId", "termDuration", "billingCycle", "title")}


async def move_to_nce(request: web.Request) -> web.Response:
    customer, subscription = _ids(request)
    idempotency_key(request)  # refused before the catalog is read
    move = parse_body(await request.read(), MoveToNce)
    payload = {
        "customerId": customer,
        "subscriptionId": subscription,
        **move.model_dump(mode="json", by_alias=True, exclude_none=True),
        "offer": await _resolve(request, move),
    }
    return await submit(request, "legacy_move", payload)


async def migrate_to_nce(request: web.Request) -> web.Response:
    customer, subscription = _ids(request)
    move = parse_body(await request.read() or b"{}", MigrateToNce)
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
