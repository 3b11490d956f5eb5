"""A purchase: reseller checks, customer, MCA, cart with participants, checkout, provisioning.

New tenant:      reseller → domain check → create customer → MCA → cart → checkout → provisioned
Existing tenant: reseller → find customer (or wait for the invitation) → MCA → cart → …

Each write carries its step's ``MS-RequestId``; after a crash the step runs again with the same
id and Partner Center answers the first outcome, so a customer, a cart or an order is never
created twice.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from contracts.partner_center.regions import EU_EFTA
from gateway import messages, money, resellers
from gateway.journal import Operation
from gateway.upstream import PartnerCenterError
from gateway.workflows.engine import Done, Fail, Outcome, Plan, StepContext, Wait, writes

MCA_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"


KINDS = ("purchase",)


def plan(op: Operation) -> Plan:
    customer = op.request["customer"]
    steps: Plan = [("check_reseller", check_reseller)]
    if customer.get("newTenant"):
        steps += [("check_domain", check_domain), ("create_customer", create_customer)]
    else:
        steps += [("find_customer", find_customer)]
    steps += [
        ("accept_mca", accept_mca),
        ("create_cart", create_cart),
        ("checkout", checkout),
        ("await_provisioning", await_provisioning),
    ]
    return steps


# -- reseller --------------------------------------------------------------------------------


async def reseller_status(ctx: StepContext, mpn_id: str) -> dict[str, Any] | Outcome:
    """``{tenantId, name, mpnId}`` of a reseller ready to sell (``gateway.resellers``);
    otherwise the outcome to return: a failure naming what the reseller must do, or a wait for
    it to accept the provider's invitation."""
    check = await resellers.check_reseller(ctx.pc, ctx.caches.resellers, mpn_id)
    if check.ready:
        return {"tenantId": check.tenant_id, "name": check.name or "", "mpnId": mpn_id}
    if check.refused is not None:
        return Fail(check.next_step or "", upstream=check.refused)
    if check.reason == "mpa_not_signed":
        return Fail(check.next_step or "", reason="mpa_not_signed")
    return _invitation_wait(ctx, "reseller_invitation", mpn_id=mpn_id)


def _invitation_wait(
    ctx: StepContext, reason: str, url: str | None = None, **fields: Any
) -> Outcome:
    first = ctx.step.output.get("waitingSince")
    since = datetime.fromisoformat(first) if first else ctx.now
    expires = since + timedelta(days=ctx.settings.invitation_expiry_days)
    if ctx.now >= expires:
        return Fail(messages.for_reason(f"{reason}_expired", expired=messages.when(expires), **fields),
                    reason=f"{reason}_expired")  # fmt: skip
    action = {
        "kind": reason,
        "message": messages.for_reason(reason, **fields),
        "url": url,
        "expiresAt": expires.isoformat(),
    }
    return Wait(ctx.settings.invitation_poll_seconds, action=action,
                output={"waitingSince": since.isoformat()})  # fmt: skip


async def check_reseller(ctx: StepContext) -> Outcome:
    reseller = ctx.request["reseller"]
    found = await reseller_status(ctx, reseller["mpnId"])
    if not isinstance(found, dict):
        return found
    for mpn_id in ctx.request.get("additionalResellerMpnIds", []):
        extra = await reseller_status(ctx, mpn_id)
        if not isinstance(extra, dict):
            return extra
    return Done({"resellerTenantId": found["tenantId"], "resellerName": found["name"]})


# -- customer --------------------------------------------------------------------------------


def _domain(ctx: StepContext) -> str:
    return f"{ctx.request['customer']['newTenant']['domainPrefix']}.onmicrosoft.com"


async def check_domain(ctx: StepContext) -> Outcome:
    domain = _domain(ctx)
    try:
        await ctx.pc.call("HEAD", f"/v1/domains/{quote(domain)}")
    except PartnerCenterError as exc:
        if exc.status == 404:
            return Done({"domain": domain})
        raise
    return Fail(messages.for_reason("domain_taken", domain=domain), reason="domain_taken")


@writes
async def create_customer(ctx: StepContext) -> Outcome:
    tenant = ctx.request["customer"]["newTenant"]
    address, contact = tenant["address"], tenant["contact"]
    body: dict[str, Any] = {
        "companyProfile": {"domain": _domain(ctx)},
        "billingProfile": {
            "email": contact["email"],
            "culture": "en-US",
            "language": "en",
            "companyName": tenant["companyName"],
            "defaultAddress": {
                "firstName": contact["firstName"],
                "lastName": contact["lastName"],
                "addressLine1": address["line1"],
                "addressLine2": address.get("line2"),
                "city": address["city"],
                "state": address.get("state"),
                "postalCode": address["postalCode"],
                "country": address["country"],
                "phoneNumber": contact.get("phone"),
            },
        },
        "associatedPartnerId": ctx.outputs["check_reseller"]["resellerTenantId"],
    }
    if tenant.get("organizationRegistrationNumber"):
        body["companyProfile"]["organizationRegistrationNumber"] = tenant[
            "organizationRegistrationNumber"
        ]
    created = await ctx.call("POST", "/v1/customers", body=body)
    credentials = created.get("userCredentials") or {}
    customer_id = created["id"]
    secrets = None
    if credentials:
        secrets = {"adminCredentials": {
            "adminUserName": f"{credentials.get('userName')}@{_domain(ctx)}",
            "adminPassword": credentials.get("password"),
        }}  # fmt: skip
    return Done(
        {
            "customerId": customer_id,
            "domain": _domain(ctx),
            "country": address["country"],
            "new": True,
        },
        result={"customerId": customer_id, "domain": _domain(ctx)},
        secrets=secrets,
    )


async def find_customer(ctx: StepContext) -> Outcome:
    domain = ctx.request["customer"]["existingTenant"]["domain"]
    query = json.dumps({"Field": "Domain", "Value": domain, "Operator": "starts_with"})
    page = await ctx.pc.call("GET", "/v1/customers", params={"size": "50", "filter": query})
    for item in page.body.get("items", []):
        if item.get("companyProfile", {}).get("domain", "").lower() == domain:
            country = (
                item.get("billingProfile", {}).get("defaultAddress", {}).get("country") or ""
            ).upper()
            if ctx.request.get("additionalResellerMpnIds") and country not in EU_EFTA:
                return Fail(f"Additional resellers are only for customers in EU/EFTA countries; "
                            f"{domain} is in {country or 'an unknown country'}.", reason="eu_efta")  # fmt: skip
            return Done({"customerId": item["id"], "domain": domain, "country": country, "new": False},
                        result={"customerId": item["id"], "domain": domain})  # fmt: skip
    invitation = await ctx.pc.call("GET", "/v1/customers/relationshiprequests")
    return _invitation_wait(ctx, "customer_invitation", url=invitation.body.get("url"))


def _customer_id(ctx: StepContext) -> str:
    out = ctx.outputs.get("create_customer") or ctx.outputs["find_customer"]
    return str(out["customerId"])


def _is_new(ctx: StepContext) -> bool:
    return "create_customer" in ctx.outputs


# -- MCA, cart, checkout ---------------------------------------------------------------------


@writes
async def accept_mca(ctx: StepContext) -> Outcome:
    customer_id = _customer_id(ctx)
    if not _is_new(ctx):
        existing = await ctx.pc.call(
            "GET", f"/v1/customers/{customer_id}/agreements",
            params={"agreementType": "MicrosoftCustomerAgreement"},
        )  # fmt: skip
        if existing.body.get("items"):
            return Done({"alreadyAccepted": True})
    mca = ctx.request["mca"]
    body = {
        "primaryContact": {
            "firstName": mca["firstName"],
            "lastName": mca["lastName"],
            "email": mca["email"],
            "phoneNumber": mca.get("phone"),
        },
        "templateId": MCA_TEMPLATE,
        "dateAgreed": f"{mca['acceptedOn']}T00:00:00Z",
        "type": "MicrosoftCustomerAgreement",
    }
    await ctx.call("POST", f"/v1/customers/{customer_id}/agreements", body=body)
    return Done({"accepted": True})


@writes
async def create_cart(ctx: StepContext) -> Outcome:
    reseller = ctx.request["reseller"]["mpnId"]
    participants = [{"key": "transaction_reseller", "value": reseller}] + [
        {"key": "additional_transaction_reseller", "value": mpn}
        for mpn in ctx.request.get("additionalResellerMpnIds", [])
    ]
    lines = []
    for index, line in enumerate(ctx.request["resolvedLines"]):
        entry: dict[str, Any] = {
            "id": index,
            "catalogItemId": line["catalogItemId"],
            "quantity": line["quantity"],
            "billingCycle": line["billingCycle"],
            "participants": participants,
        }
        if line.get("termDuration"):
            entry["termDuration"] = line["termDuration"]
        if line.get("friendlyName"):
            entry["friendlyName"] = line["friendlyName"]
        lines.append(entry)
    cart = await ctx.call(
        "POST", f"/v1/customers/{_customer_id(ctx)}/carts",
        body={"lineItems": lines, "partnerOnRecordAttestationAccepted": True},
    )  # fmt: skip
    for line in cart.get("lineItems", []):
        error = line.get("error")
        if error:
            return Fail(messages.for_reason("cart_line", line=line.get("id"),
                                            description=error.get("errorDescription", "")),
                        reason="cart_line")  # fmt: skip
    return Done({"cartId": cart["id"]})


@writes
async def checkout(ctx: StepContext) -> Outcome:
    cart_id = ctx.outputs["create_cart"]["cartId"]
    result = await ctx.call("POST", f"/v1/customers/{_customer_id(ctx)}/carts/{cart_id}/checkout")
    orders = [_order_state(o) for o in result.get("orders", [])]
    return Done({"orders": orders}, result={"orderIds": [o["id"] for o in orders]})


def _order_state(order: dict[str, Any]) -> dict[str, Any]:
    """What the purchase keeps of an order; a completed one carries each subscription's
    monthly fee and first partial month (``money.order_estimates``), from the answer in hand."""
    return {
        "id": order["id"],
        "status": order.get("status"),
        "subscriptionIds": [
            line["subscriptionId"]
            for line in order.get("lineItems", [])
            if line.get("subscriptionId")
        ],
        "lines": len(order.get("lineItems", [])),
        "estimates": money.order_estimates(order) if order.get("status") == "completed" else [],
        "productKeys": [
            {"subscriptionId": line.get("subscriptionId"), "productKey": line["productKey"]}
            for line in order.get("lineItems", [])
            if line.get("productKey")
        ],
    }


async def await_provisioning(ctx: StepContext) -> Outcome:
    """Done once every order is completed with its subscription ids; polls with back-off, never
    faster than ``order_poll_seconds``."""
    known = ctx.step.output.get("orders") or ctx.outputs["checkout"]["orders"]
    orders = []
    for order in known:
        if order["status"] != "completed" or len(order["subscriptionIds"]) < order["lines"]:
            fresh = await ctx.pc.call(
                "GET", f"/v1/customers/{_customer_id(ctx)}/orders/{order['id']}"
            )
            order = _order_state(fresh.body)
        orders.append(order)
    if all(o["status"] == "completed" and len(o["subscriptionIds"]) >= o["lines"] for o in orders):
        ids = [s for o in orders for s in o["subscriptionIds"]]
        estimates = [e for o in orders for e in o.get("estimates", [])]
        # Perpetual licences' one-use keys are delivered once, like admin credentials.
        keys = [k for o in orders for k in o.pop("productKeys", [])]
        return Done(
            {"orders": orders},
            result={"subscriptionIds": ids, "estimatedUsage": estimates},
            secrets={"productKeys": keys} if keys else None,
        )
    failed = [o for o in orders if o["status"] in ("cancelled", "error")]
    if failed:
        return Fail(f"Partner Center reports order {failed[0]['id']} as {failed[0]['status']}; "
                    "contact the distributor's support.", reason="order_failed")  # fmt: skip
    delay = min(ctx.settings.order_poll_seconds * 2 ** (ctx.step.attempts - 1),
                ctx.settings.order_poll_max_seconds)  # fmt: skip
    return Wait(delay, output={"orders": orders})
