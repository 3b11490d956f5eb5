"""One offer named in a subscription request (an upgrade's target, a legacy move's NCE offer),
resolved through the catalog before anything is journaled, as ``POST /v1/orders`` resolves its
lines: a bad plan code is a 400 with no operation behind it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from gateway.api.errors import ApiError
from gateway.catalog import LineRefused
from gateway.services import services
from gateway.upstream import UpstreamError

#: ``Catalog.resolve`` names fields as lines of an order; these requests have one offer at top.
_LINE = "lines[0]"


def _unlined(text: str) -> str:
    return text.replace(f"{_LINE}.", "").replace(f"{_LINE}: ", "")


async def resolve_offer(
    request: web.Request, body: BaseModel, quantity: int | None
) -> dict[str, Any]:
    """The offer as ``{catalogItemId, termDuration, billingCycle, title}``. Without a quantity
    the seats are only known once the operation reads the subscription, so the offer's range is
    checked with one seat here and by the operation (or Partner Center) then."""
    svc = services(request)
    line = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    line["quantity"] = quantity or 1
    try:
        offer = await svc.catalog.resolve(line, 0, svc.settings.catalog_country)
    except LineRefused as exc:
        raise ApiError(400, exc.code, _unlined(exc.message), _unlined(exc.field)) from None
    except UpstreamError as exc:
        raise ApiError(503, "partner_center_unavailable",
                       f"the catalog could not be read from Partner Center ({exc}); try again") from None  # fmt: skip
    return {k: offer[k] for k in ("catalogItemId", "termDuration", "billingCycle", "title")}
