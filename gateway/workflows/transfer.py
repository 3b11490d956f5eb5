"""Partner-to-partner NCE transfers as operations, in both directions.

As **target** (``transfer_in``, a customer comes to this distributor):

    reseller (when a partner of record is named) → find the customer (or wait for the
    relationship) → create the transfer request → wait for the source partner to accept

The request is created once: its step carries a stable ``MS-RequestId``, and Partner Center
answers a repeated POST with the first outcome. Waiting is ``action_required`` — someone outside
(the source partner, in Partner Center) must act — until the request completes (the new
subscription ids are the result), is cancelled, or expires (30 days, Microsoft's rule).

As **source** (``transfer_accept``, a customer leaves) and as target withdrawing its request
(``transfer_cancel``): one PATCH each. A request that is no longer pending fails with Microsoft's
409 / 900104 kept, unless a re-run finds its own earlier PATCH already landed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gateway import messages
from gateway.journal import Operation
from gateway.upstream import PartnerCenterError
from gateway.workflows.engine import Done, Fail, Outcome, Plan, StepContext, Wait, writes
from gateway.workflows.purchase import _invitation_wait, reseller_status
from gateway.workflows.subscription import upstream_now

KINDS = ("transfer_in", "transfer_accept", "transfer_cancel")

#: Microsoft's code for a PATCH of a transfer that is no longer ``Pending``.
NOT_PENDING = 900104
#: The slowest poll of a pending request, as a multiple of ``invitation_poll_seconds``.
POLL_CAP = 10


def plan(op: Operation) -> Plan:
    if op.kind == "transfer_in":
        steps: Plan = []
        if op.request.get("resellerMpnId"):
            steps.append(("check_reseller", check_reseller))
        return [
            *steps,
            ("find_customer", find_customer),
            ("create_transfer", create_transfer),
            ("await_source", await_source),
        ]
    if op.kind == "transfer_accept":
        return [("accept_transfer", accept_transfer)]
    if op.kind == "transfer_cancel":
        return [("cancel_transfer", cancel_transfer)]
    raise ValueError(f"no transfer workflow for {op.kind!r}")


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# -- as target -------------------------------------------------------------------------------


async def check_reseller(ctx: StepContext) -> Outcome:
    found = await reseller_status(ctx, str(ctx.request["resellerMpnId"]))
    if not isinstance(found, dict):
        return found
    return Done({"resellerTenantId": found["tenantId"], "resellerName": found["name"]})


async def find_customer(ctx: StepContext) -> Outcome:
    """The customer among this partner's customers; otherwise the relationship invitation to
    send, waited on until the customer's admin accepts it."""
    domain = str(ctx.request["customer"]["domain"])
    query = json.dumps({"Field": "Domain", "Value": domain, "Operator": "starts_with"})
    page = await ctx.pc.call("GET", "/v1/customers", params={"size": "50", "filter": query})
    for item in page.body.get("items", []):
        if item.get("companyProfile", {}).get("domain", "").lower() == domain:
            return Done({"customerId": item["id"], "domain": domain},
                        result={"customerId": item["id"], "domain": domain})  # fmt: skip
    invitation = await ctx.pc.call("GET", "/v1/customers/relationshiprequests")
    return _invitation_wait(ctx, "transfer_invitation", url=invitation.body.get("url"))


def _customer_id(ctx: StepContext) -> str:
    return str(ctx.outputs["find_customer"]["customerId"])


@writes
async def create_transfer(ctx: StepContext) -> Outcome:
    request = ctx.request
    body: dict[str, Any] = {
        "sourcePartnerTenantId": request["sourcePartnerTenantId"],
        "sourcePartnerName": request["sourcePartnerName"],
        "customerEmailId": request["customerEmail"],
        "transferType": 5,  # NewCommerce (the entity reference: "standardize on 5")
    }
    if request.get("resellerMpnId"):
        body["partnerOnRecord"] = request["resellerMpnId"]
    if request.get("targetProductTypes"):
        body["targetProductTypes"] = request["targetProductTypes"]
    created = await ctx.call("POST", f"/v1/customers/{_customer_id(ctx)}/transfers", body=body)
    return Done(
        {"transferId": created["id"], "expirationTime": created.get("expirationTime")},
        result={"transferId": created["id"], "expiresAt": created.get("expirationTime")},
    )


async def await_source(ctx: StepContext) -> Outcome:
    """Done once the source partner completed the request, with the subscriptions' new ids;
    polls with back-off between ``invitation_poll_seconds`` and ten times that."""
    transfer_id = ctx.outputs["create_transfer"]["transferId"]
    reply = await ctx.pc.call("GET", f"/v1/customers/{_customer_id(ctx)}/transfers/{transfer_id}")
    transfer = reply.body
    status = str(transfer.get("status", ""))
    expires = _instant(transfer.get("expirationTime"))
    if status == "Complete":
        moved = [
            line["transferredSubscriptionId"]
            for line in transfer.get("lineItems", [])
            if line.get("transferredSubscriptionId")
        ]
        return Done({"status": status, "subscriptionIds": moved},
                    result={"subscriptionIds": moved})  # fmt: skip
    expired = status == "Expired" or (
        status == "Pending" and expires is not None and upstream_now(reply, ctx.now) >= expires
    )
    if expired:
        return Fail(messages.for_reason("transfer_expired", expired=messages.when(expires)),
                    reason="transfer_expired")  # fmt: skip
    if status == "Canceled":
        return Fail(messages.for_reason("transfer_canceled"), reason="transfer_canceled")
    base = ctx.settings.invitation_poll_seconds
    delay = min(base * 2 ** min(ctx.step.attempts - 1, 16), base * POLL_CAP)
    if status != "Pending":  # accepted and still moving (Microsoft's "InProgress"): no one to ask
        return Wait(delay, output={"status": status})
    action = {
        "kind": "transfer_pending",
        "message": messages.for_reason("transfer_pending", source=ctx.request["sourcePartnerName"],
                                       expires=messages.when(expires)),
        "url": None,
        "expiresAt": expires.isoformat() if expires else None,
    }  # fmt: skip
    return Wait(delay, action=action, output={"status": status})


# -- as source, and the target's cancel ------------------------------------------------------


def _transfer_path(request: dict[str, Any]) -> str:
    return f"/v1/customers/{request['customerId']}/transfers/{request['transferId']}"


async def _line_items(ctx: StepContext) -> list[dict[str, Any]]:
    """Every line with its quantity: a line that names none moves all of the subscription's
    seats, read now (Microsoft's accept body carries a quantity on every line)."""
    items = []
    for line in ctx.request["lines"]:
        quantity = line.get("quantity")
        if quantity is None:
            sub = await ctx.pc.call("GET", f"/v1/customers/{ctx.request['customerId']}"
                                           f"/subscriptions/{line['subscriptionId']}")  # fmt: skip
            quantity = int(sub.body.get("quantity", 0))
        items.append({"subscriptionId": line["subscriptionId"], "quantity": quantity})
    return items


def _finished(ctx: StepContext, transfer: dict[str, Any]) -> Done:
    result: dict[str, Any] = {"transferId": transfer.get("id"), "status": transfer.get("status")}
    if ctx.op.kind == "transfer_accept":
        lines = transfer.get("lineItems", [])
        result["subscriptionIds"] = [line.get("subscriptionId") for line in lines]
        result["transferredSubscriptionIds"] = [
            line["transferredSubscriptionId"]
            for line in lines
            if line.get("transferredSubscriptionId")
        ]
    return Done({"status": transfer.get("status")}, result=result)


async def _patch(ctx: StepContext, body: dict[str, Any], reason: str) -> Outcome:
    """PATCH the transfer. Microsoft's 409 / 900104 (no longer pending) fails the operation with
    the code kept, unless the transfer is in the state this PATCH asked for and either it was
    pending just before (the adapter's retry of a PATCH that landed got the 409) or this step is
    a re-run (its first attempt may have landed before a crash)."""
    path = _transfer_path(ctx.request)
    before = (await ctx.pc.call("GET", path)).body
    try:
        return _finished(ctx, await ctx.call("PATCH", path, body=body))
    except PartnerCenterError as exc:
        if exc.code != NOT_PENDING:
            raise
        current = (await ctx.pc.call("GET", path)).body
        ours = before.get("status") == "Pending" or ctx.step.attempts > 1
        if ours and _landed(ctx, current):
            return _finished(ctx, current)
        status = str(current.get("status") or "no longer pending")
        return Fail(messages.for_reason(reason, status=status), upstream=exc, reason=reason)


def _landed(ctx: StepContext, transfer: dict[str, Any]) -> bool:
    if ctx.op.kind == "transfer_cancel":
        return transfer.get("status") == "Canceled"
    moved = {str(line.get("subscriptionId", "")).lower() for line in transfer.get("lineItems", [])}
    asked = {str(line["subscriptionId"]).lower() for line in ctx.request["lines"]}
    return transfer.get("status") == "Complete" and asked <= moved


@writes
async def accept_transfer(ctx: StepContext) -> Outcome:
    body = {"status": "Complete", "lineItems": await _line_items(ctx)}
    return await _patch(ctx, body, "transfer_not_acceptable")


@writes
async def cancel_transfer(ctx: StepContext) -> Outcome:
    return await _patch(ctx, {"status": "Cancel"}, "transfer_not_cancellable")
