"""``GET /v1/customers/{id}``: the customer as Partner Center knows it, with its resellers."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts.northbound.base import Outbound
from contracts.openapi import Route
from gateway.api.errors import upstream_read
from gateway.api.inputs import path_guid
from gateway.api.tenancy import require_customer
from gateway.services import services


class ResellerView(Outbound):
    tenant_id: str
    name: str
    mpn_id: str


class CustomerView(Outbound):
    id: str
    domain: str
    company_name: str | None = None
    country: str | None = None
    indirect_resellers: list[ResellerView]


async def get_customer(request: web.Request) -> web.Response:
    svc = services(request)
    customer_id = path_guid(request, "customer")
    await require_customer(request, customer_id)
    with upstream_read(f"customer {customer_id} does not exist"):
        customer = (await svc.reads.call("GET", f"/v1/customers/{customer_id}")).body
        resellers = (await svc.reads.call("GET", f"/v1/customers/{customer_id}/relationships")).body
    company: dict[str, Any] = customer.get("companyProfile", {})
    billing: dict[str, Any] = customer.get("billingProfile", {})
    view = CustomerView(
        id=customer["id"],
        domain=company.get("domain", ""),
        company_name=company.get("companyName"),
        country=(billing.get("defaultAddress") or {}).get("country"),
        indirect_resellers=[
            ResellerView(tenant_id=r["id"], name=r.get("name", ""), mpn_id=str(r.get("mpnId", "")))
            for r in resellers.get("items", [])
        ],
    )
    return web.json_response(view.model_dump(mode="json", by_alias=True, exclude_none=True))


ROUTES = [
    Route("GET", "/v1/customers/{customer}", "A customer and its indirect resellers", CustomerView,
          errors=(404, 502, 503), tag="customers"),
]  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1/customers/{customer}", get_customer)
