"""``GET /v1/customers/{id}/subscriptions.csv``: the customer's subscriptions as Partner Center's
export gives them (seed ``003_…``): subscription id, name, quantity, status with the auto-renew
state and the renewal date, billing cycle, promotion id, reseller id.

The renewal date is the day the next term starts (the day after ``commitmentEndDate``), given
only while the subscription is active with auto-renew on; otherwise the column is empty.
Perpetual licences never renew. Reads go straight to Partner Center, following its
continuation pages.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from contracts.openapi import Route
from gateway.api.errors import upstream_read
from gateway.api.inputs import path_guid
from gateway.api.tenancy import others, require_customer
from gateway.services import services

COLUMNS = (
    "Subscription ID",
    "Name",
    "Quantity",
    "Status",
    "Auto-renew",
    "Renewal date",
    "Billing cycle",
    "Promotion ID",
    "Reseller ID",
)
PATH = "/v1/customers/{customer}/subscriptions.csv"


def renewal_date(sub: dict[str, Any]) -> str:
    end = str(sub.get("commitmentEndDate") or "")[:10]
    if not end or sub.get("status") != "active" or not sub.get("autoRenewEnabled"):
        return ""
    return (date.fromisoformat(end) + timedelta(days=1)).isoformat()


def row(sub: dict[str, Any]) -> list[str]:
    return [
        str(sub.get("id", "")),
        str(sub.get("friendlyName") or sub.get("offerName") or ""),
        str(sub.get("quantity", "")),
        str(sub.get("status", "")),
        "on" if sub.get("autoRenewEnabled") else "off",
        renewal_date(sub),
        str(sub.get("billingCycle") or ""),
        str(sub.get("promotionId") or ""),
        str(sub.get("partnerId") or ""),
    ]


def to_csv(subscriptions: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(row(s) for s in subscriptions)
    return out.getvalue()


async def _subscriptions(request: web.Request, customer: str) -> list[dict[str, Any]]:
    pc = services(request).reads
    path = f"/v1/customers/{customer}/subscriptions"
    items: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    seen: set[str] = set()
    while True:
        body = (await pc.call("GET", path, headers=headers or None)).body
        items += body.get("items", [])
        token = str(body.get("continuationToken") or "")
        if not token or token in seen:  # a repeated token would loop forever
            return items
        seen.add(token)
        headers = {"MS-ContinuationToken": token}


async def export_subscriptions(request: web.Request) -> web.Response:
    customer = path_guid(request, "customer")
    await require_customer(request, customer)
    with upstream_read(f"customer {customer} does not exist"):
        subscriptions = await _subscriptions(request, customer)
    hidden = await others(request, (str(s.get("id", "")) for s in subscriptions))
    subscriptions = [s for s in subscriptions if str(s.get("id", "")).lower() not in hidden]
    return web.Response(
        text=to_csv(subscriptions),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="subscriptions-{customer}.csv"'},
    )


ROUTES = [
    Route("GET", PATH, "The customer's subscriptions as CSV (id, name, quantity, status, "
          "auto-renew, renewal date, billing cycle, promotion id, reseller id)", None,
          errors=(400, 404, 502, 503), tag="customers"),
]  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PATH, export_subscriptions)
