"""Subscription reads and changes. Reads go straight to Partner Center; every change is an
operation (202) that the workers carry out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from contracts.northbound.base import Outbound
from contracts.northbound.operations import OperationView
from contracts.northbound.subscriptions import (
    Cancel,
    ChangeBillingCycle,
    ChangePartnerOfRecord,
    ChangeSeats,
    NoBody,
    ScheduleChange,
    SetAutoRenew,
)
from contracts.openapi import Route
from gateway.api.errors import parse_body, upstream_read
from gateway.api.inputs import path_guid
from gateway.api.operations import KEY_HEADER, idempotency_key, submit
from gateway.api.tenancy import require_subscription
from gateway.services import services
from gateway.workflows.subscription import upstream_now

BASE = "/v1/customers/{customer}/subscriptions/{subscription}"


class SeatWindow(Outbound):
    quantity: int
    reducible_until: datetime


class SubscriptionView(Outbound):
    """A subscription with what can still be undone, and until when."""

    id: str
    customer_id: str
    offer_id: str
    offer_name: str
    friendly_name: str | None = None
    quantity: int
    status: str
    auto_renew_enabled: bool
    billing_cycle: str | None = None
    term_duration: str | None = None
    commitment_end_date: str | None = None
    reseller_mpn_id: str | None = None
    can_cancel: bool
    cancellable_until: datetime | None = None
    reducible_quantity: int = Field(
        description="Seats bought in the last 168 hours (Microsoft's refundable quantity); "
        "removing all of them is a cancel, not a seat change"
    )
    lowest_quantity_now: int = Field(
        description="The fewest seats a seat change may leave now (never below 1; the offer's "
        "own minimum may be higher)"
    )
    seat_windows: list[SeatWindow]
    scheduled_change: dict[str, Any] | None = Field(
        default=None,
        description="What the subscription becomes at its renewal (Partner Center's "
        "scheduledNextTermInstructions); none when nothing is scheduled",
    )
    billing_cycle_from_next_charge: str | None = Field(
        default=None, description="A billing-cycle change waiting for the next cycle charge"
    )
    as_of: datetime = Field(description="Partner Center's time when this was read")


def subscription_ids(request: web.Request) -> tuple[str, str]:
    """The customer and subscription ids of the path, checked for form."""
    return path_guid(request, "customer"), path_guid(request, "subscription")


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def subscription_view(customer: str, sub: dict[str, Any], now: datetime) -> dict[str, Any]:
    until = _instant(sub.get("cancellationAllowedUntilDate"))
    refundable = sub.get("refundableQuantity") or {}
    reducible = int(refundable.get("totalQuantity", 0))
    view = SubscriptionView(
        id=sub["id"],
        customer_id=customer,
        offer_id=sub.get("offerId", ""),
        offer_name=sub.get("offerName", ""),
        friendly_name=sub.get("friendlyName"),
        quantity=int(sub.get("quantity", 0)),
        status=sub.get("status", ""),
        auto_renew_enabled=bool(sub.get("autoRenewEnabled")),
        billing_cycle=sub.get("billingCycle"),
        term_duration=sub.get("termDuration"),
        commitment_end_date=sub.get("commitmentEndDate"),
        reseller_mpn_id=sub.get("partnerId") or None,
        can_cancel=sub.get("status") in ("active", "suspended")
        and until is not None
        and now <= until,
        cancellable_until=until,
        reducible_quantity=reducible,
        lowest_quantity_now=max(1, int(sub.get("quantity", 0)) - reducible),
        seat_windows=[
            SeatWindow(
                quantity=d["quantity"], reducible_until=_instant(d["allowedUntilDateTime"]) or now
            )
            for d in refundable.get("details", [])
        ],
        scheduled_change=sub.get("scheduledNextTermInstructions"),
        billing_cycle_from_next_charge=(
            (sub.get("nextChargeInstructions") or {}).get("product", {}).get("billingCycle")
        ),
        as_of=now,
    )
    return view.model_dump(mode="json", by_alias=True, exclude_none=True)


async def get_subscription(request: web.Request) -> web.Response:
    svc = services(request)
    customer, subscription = subscription_ids(request)
    await require_subscription(request, customer, subscription)
    with upstream_read(f"subscription {subscription} of customer {customer} does not exist"):
        reply = await svc.reads.call(
            "GET", f"/v1/customers/{customer}/subscriptions/{subscription}"
        )
    now = upstream_now(reply, svc.clock())
    return web.json_response(subscription_view(customer, reply.body, now.astimezone(UTC)))


async def _change(request: web.Request, kind: str, model: type[BaseModel]) -> web.Response:
    customer, subscription = subscription_ids(request)
    idempotency_key(request)
    body = parse_body(await request.read(), model, empty=b"{}")
    await require_subscription(request, customer, subscription)  # after the request's own form
    payload = {"customerId": customer, "subscriptionId": subscription,
               **body.model_dump(mode="json", by_alias=True, exclude_none=True)}  # fmt: skip
    return await submit(request, kind, payload)


async def change_seats(request: web.Request) -> web.Response:
    return await _change(request, "change_seats", ChangeSeats)


async def cancel(request: web.Request) -> web.Response:
    return await _change(request, "cancel", Cancel)


async def suspend(request: web.Request) -> web.Response:
    return await _change(request, "suspend", NoBody)


async def resume(request: web.Request) -> web.Response:
    return await _change(request, "resume", NoBody)


async def auto_renew(request: web.Request) -> web.Response:
    return await _change(request, "auto_renew", SetAutoRenew)


async def partner_of_record(request: web.Request) -> web.Response:
    return await _change(request, "change_partner_of_record", ChangePartnerOfRecord)


async def schedule_change(request: web.Request) -> web.Response:
    return await _change(request, "schedule_change", ScheduleChange)


async def cancel_scheduled_change(request: web.Request) -> web.Response:
    return await _change(request, "cancel_scheduled_change", NoBody)


async def change_billing_cycle(request: web.Request) -> web.Response:
    return await _change(request, "change_billing_cycle", ChangeBillingCycle)


_KEY = {KEY_HEADER: "any unique string; repeats find the same operation"}
ROUTES = [
    Route("GET", BASE, "A subscription, with what can still be reduced or cancelled and until when",
          SubscriptionView, errors=(404, 502, 503), tag="subscriptions"),
    Route("POST", BASE + "/seats", "Change the number of seats", OperationView, status=202,
          body=ChangeSeats, headers=_KEY, errors=(422,), tag="subscriptions"),
    Route("POST", BASE + "/cancel", "Cancel (only within 168 hours of purchase or renewal)",
          OperationView, status=202, body=Cancel, headers=_KEY, errors=(422,), tag="subscriptions"),
    Route("POST", BASE + "/suspend", "Suspend (billing continues; auto-renew turns off)",
          OperationView, status=202, body=NoBody, headers=_KEY, errors=(422,), tag="subscriptions"),
    Route("POST", BASE + "/resume", "Resume a suspended subscription", OperationView, status=202,
          body=NoBody, headers=_KEY, errors=(422,), tag="subscriptions"),
    Route("POST", BASE + "/auto-renew", "Turn auto-renew on or off", OperationView, status=202,
          body=SetAutoRenew, headers=_KEY, errors=(422,), tag="subscriptions"),
    Route("POST", BASE + "/partner-of-record", "Name another reseller as partner of record",
          OperationView, status=202, body=ChangePartnerOfRecord, headers=_KEY, errors=(422,),
          tag="subscriptions"),
    Route("POST", BASE + "/scheduled-change",
          "Schedule the offer, seats, term and billing the subscription takes at its renewal "
          "(needs auto-renew on; replaces any earlier scheduled change)", OperationView,
          status=202, body=ScheduleChange, headers=_KEY, errors=(422,), tag="subscriptions"),
    Route("POST", BASE + "/scheduled-change/cancel", "Remove the change scheduled for the renewal",
          OperationView, status=202, body=NoBody, headers=_KEY, errors=(422,), tag="subscriptions"),
    Route("POST", BASE + "/billing-cycle",
          "Change the billing cycle from the next cycle charge (read-only while a charge runs)",
          OperationView, status=202, body=ChangeBillingCycle, headers=_KEY, errors=(422,),
          tag="subscriptions"),
]  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(BASE, get_subscription)
    router.add_post(BASE + "/seats", change_seats)
    router.add_post(BASE + "/cancel", cancel)
    router.add_post(BASE + "/suspend", suspend)
    router.add_post(BASE + "/resume", resume)
    router.add_post(BASE + "/auto-renew", auto_renew)
    router.add_post(BASE + "/partner-of-record", partner_of_record)
    router.add_post(BASE + "/scheduled-change", schedule_change)
    router.add_post(BASE + "/scheduled-change/cancel", cancel_scheduled_change)
    router.add_post(BASE + "/billing-cycle", change_billing_cycle)
