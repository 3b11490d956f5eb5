"""Transfers between partners: reads go straight to Partner Center; requesting, accepting and
cancelling a transfer are operations (202) the workers carry out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from contracts.northbound.operations import OperationView
from contracts.northbound.transfers import (
    AcceptTransfer,
    CancelTransfer,
    PartnerView,
    TransferIn,
    TransferLineView,
    TransferList,
    TransferView,
)
from contracts.openapi import Route
from gateway.api.errors import ApiError, parse_body, upstream_read
from gateway.api.inputs import path_guid
from gateway.api.operations import KEY_HEADER, idempotency_key, submit
from gateway.api.tenancy import require_customer, require_subscription
from gateway.services import services
from gateway.upstream import Reply

BASE = "/v1/customers/{customer}/transfers"


def _id(request: web.Request, name: str) -> str:
    return path_guid(request, name)


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def transfer_view(item: dict[str, Any], us: str) -> TransferView:
    """A transfer as seen by partner tenant ``us``: whether the customer comes or goes."""
    source = str(item.get("sourcePartnerTenantId") or "").lower()
    target = str(item.get("targetPartnerTenantId") or "").lower()
    direction = "incoming" if target == us else "outgoing" if source == us else "other"
    return TransferView(
        id=item["id"],
        customer_id=item.get("customerTenantId", ""),
        direction=direction,
        status=item.get("status", ""),
        source=PartnerView(tenant_id=source, name=item.get("sourcePartnerName")),
        target=PartnerView(tenant_id=target, name=item.get("targetPartnerName")),
        customer_email=item.get("customerEmailId"),
        reseller_mpn_id=item.get("partnerOnRecord") or None,
        target_product_types=item.get("targetProductTypes"),
        created_at=_instant(item.get("createdTime")),
        expires_at=_instant(item.get("expirationTime")),
        completed_at=_instant(item.get("completedTime")),
        lines=[
            TransferLineView(
                subscription_id=line.get("subscriptionId", ""),
                quantity=line.get("quantity"),
                billing_cycle=line.get("billingCycle"),
                product_type=line.get("productType"),
                status=line.get("status"),
                transferred_subscription_id=line.get("transferredSubscriptionId"),
            )
            for line in item.get("lineItems") or []
        ],
    )


async def _read(request: web.Request, path: str, missing: str) -> Reply:
    with upstream_read(missing):
        return await services(request).reads.call("GET", path)


def _us(request: web.Request) -> str:
    return services(request).settings.pc_tenant_id.lower()


def _json(model: TransferView | TransferList) -> web.Response:
    return web.json_response(model.model_dump(mode="json", by_alias=True, exclude_none=True))


async def _customer(request: web.Request) -> str:
    """The path's customer, one of the caller's."""
    customer = _id(request, "customer")
    await require_customer(request, customer)
    return customer


async def list_transfers(request: web.Request) -> web.Response:
    customer = await _customer(request)
    reply = await _read(request, f"/v1/customers/{customer}/transfers",
                        f"customer {customer} does not exist")  # fmt: skip
    us = _us(request)
    return _json(TransferList(items=[transfer_view(t, us) for t in reply.body.get("items", [])]))


async def get_transfer(request: web.Request) -> web.Response:
    customer, transfer = await _customer(request), _id(request, "transfer")
    reply = await _read(request, f"/v1/customers/{customer}/transfers/{transfer}",
                        f"transfer {transfer} of customer {customer} does not exist")  # fmt: skip
    return _json(transfer_view(reply.body, _us(request)))


def _dump(body: TransferIn | AcceptTransfer) -> dict[str, Any]:
    return body.model_dump(mode="json", by_alias=True, exclude_none=True)


async def request_transfer(request: web.Request) -> web.Response:
    idempotency_key(request)
    body = parse_body(await request.read(), TransferIn)
    if body.source_partner_tenant_id == _us(request):
        raise ApiError(400, "invalid_request",
                       "sourcePartnerTenantId is this distributor's own tenant; a transfer brings a "
                       "customer from another partner", "sourcePartnerTenantId")  # fmt: skip
    return await submit(request, "transfer_in", _dump(body))


def _ids(request: web.Request) -> dict[str, str]:
    return {"customerId": _id(request, "customer"), "transferId": _id(request, "transfer")}


async def accept(request: web.Request) -> web.Response:
    ids = _ids(request)
    idempotency_key(request)
    body = parse_body(await request.read(), AcceptTransfer)
    await require_customer(request, ids["customerId"])
    for index, line in enumerate(body.lines):  # only the caller's subscriptions can be given away
        await require_subscription(request, ids["customerId"], line.subscription_id,
                                   field=f"lines[{index}].subscriptionId")  # fmt: skip
    return await submit(request, "transfer_accept", {**ids, **_dump(body)})


async def cancel(request: web.Request) -> web.Response:
    ids = _ids(request)
    idempotency_key(request)
    parse_body(await request.read(), CancelTransfer, empty=b"{}")
    await require_customer(request, ids["customerId"])
    return await submit(request, "transfer_cancel", ids)


_KEY = {KEY_HEADER: "any unique string; repeats find the same operation"}
ROUTES = [
    Route("POST", "/v1/transfers", "Ask another partner to transfer a customer's subscriptions "
          "to this distributor (target side)", OperationView, status=202, body=TransferIn,
          headers=_KEY, errors=(422,), tag="transfers"),
    Route("GET", BASE, "A customer's transfers, incoming and outgoing", TransferList,
          errors=(404, 502, 503), tag="transfers"),
    Route("GET", BASE + "/{transfer}", "One transfer", TransferView, errors=(404, 502, 503),
          tag="transfers"),
    Route("POST", BASE + "/{transfer}/accept", "Accept an outgoing transfer with the chosen "
          "subscriptions and seats (source side)", OperationView, status=202, body=AcceptTransfer,
          headers=_KEY, errors=(422,), tag="transfers"),
    Route("POST", BASE + "/{transfer}/cancel", "Withdraw a pending incoming transfer (target "
          "side)", OperationView, status=202, body=CancelTransfer, headers=_KEY, errors=(422,),
          tag="transfers"),
]  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v1/transfers", request_transfer)
    router.add_get(BASE, list_transfers)
    router.add_get(BASE + "/{transfer}", get_transfer)
    router.add_post(BASE + "/{transfer}/accept", accept)
    router.add_post(BASE + "/{transfer}/cancel", cancel)
