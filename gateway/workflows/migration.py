"""A legacy subscription moved by Microsoft's own migration API (``/migrations/newcommerce``),
the alternative to ``legacy.py``'s buy-then-suspend: Partner Center creates the NCE
subscription and ends the legacy one itself, in one request.

validate (a read) → create_migration (the one write, with its MS-RequestId) → await_migration
(polls until ``Completed``, never faster than ``order_poll_seconds``, backing off).
"""

from __future__ import annotations

from typing import Any

from gateway import messages
from gateway.journal import Operation
from gateway.workflows.engine import Done, Fail, Outcome, Plan, StepContext, Wait, writes

KINDS = ("legacy_migration",)


def plan(op: Operation) -> Plan:
    return [
        ("validate_migration", validate_migration),
        ("create_migration", create_migration),
        ("await_migration", await_migration),
    ]


def _base(ctx: StepContext) -> str:
    return f"/v1/customers/{ctx.request['customerId']}/migrations/newcommerce"


async def validate_migration(ctx: StepContext) -> Outcome:
    """Microsoft's eligibility answer: ``isEligible`` with the NCE offer, or its reasons."""
    answer = await ctx.pc.call(
        "POST",
        f"{_base(ctx)}/validate",
        body={"currentSubscriptionId": ctx.request["subscriptionId"]},
    )
    body = answer.body
    if not body.get("isEligible"):
        reasons = "; ".join(str(e.get("description", "")) for e in body.get("errors", []))
        return Fail(messages.for_reason("migration_not_eligible", reasons=reasons or "no reason given"),
                    reason="migration_not_eligible")  # fmt: skip
    return Done({"catalogItemId": body.get("catalogItemId")})


@writes
async def create_migration(ctx: StepContext) -> Outcome:
    request = ctx.request
    body: dict[str, Any] = {"currentSubscriptionId": request["subscriptionId"]}
    for field in ("termDuration", "billingCycle", "purchaseFullTerm", "quantity"):
        if field in request:
            body[field] = request[field]
    migration = await ctx.call("POST", _base(ctx), body=body)
    return Done({"migrationId": migration["id"]}, result={"migrationId": migration["id"]})


async def await_migration(ctx: StepContext) -> Outcome:
    migration_id = ctx.outputs["create_migration"]["migrationId"]
    migration = (await ctx.pc.call("GET", f"{_base(ctx)}/{migration_id}")).body
    if migration.get("status") == "Completed":
        return Done(
            {"status": "Completed"},
            result={
                "legacySubscriptionId": ctx.request["subscriptionId"],
                "subscriptionIds": [migration.get("newCommerceSubscriptionId")],
                "orderIds": [migration.get("newCommerceOrderId")],
            },
        )
    if migration.get("status") in ("Failed", "Cancelled", "Canceled"):
        return Fail(messages.for_reason("migration_failed", status=migration.get("status")),
                    reason="migration_failed")  # fmt: skip
    delay = min(ctx.settings.order_poll_seconds * 2 ** (ctx.step.attempts - 1),
                ctx.settings.order_poll_max_seconds)  # fmt: skip
    return Wait(delay, output={"status": migration.get("status")})
