"""Subscription changes through the gateway after a purchase: what Microsoft allows goes through
and shows in Partner Center; what it would refuse is refused by the gateway first, with the
reason and the date, and without a PATCH."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from tests.gateway.conftest import Gateway, purchase_order
from tests.simulator.conftest import PartnerClient


@dataclass(frozen=True, slots=True)
class Bought:
    customer: str
    subscription: str

    @property
    def path(self) -> str:
        return f"/v1/customers/{self.customer}/subscriptions/{self.subscription}"


@pytest.fixture
async def bought(gw: Gateway) -> Bought:
    """Five seats of Business Basic (P1Y, monthly) bought at the simulator's start,
    2026-01-05T09:00Z."""
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op
    [sub] = op["result"]["subscriptionIds"]
    return Bought(op["result"]["customerId"], sub)


async def change(gw: Gateway, sub: Bought, action: str, body: Any = None) -> dict[str, Any]:
    accepted = await gw.submit(f"{sub.path}/{action}", body if body is not None else {})
    assert accepted["status"] == "accepted"
    return await gw.wait(accepted["id"])


async def state(sim: PartnerClient, sub: Bought) -> dict[str, Any]:
    return dict(await sim.ok("GET", sub.path))


async def patches(sim: PartnerClient, sub: Bought) -> list[dict[str, Any]]:
    journal = await sim.sim("GET", "/requests?limit=1000")
    return [r for r in journal["items"] if r["method"] == "PATCH" and r["path"] == sub.path]


def assert_succeeded(op: dict[str, Any]) -> None:
    assert op["status"] == "succeeded", op


def assert_refused(op: dict[str, Any], words: str) -> None:
    assert op["status"] == "failed", op
    assert words in op["error"]["message"], op["error"]


async def test_seats_go_up_and_back_down_inside_the_window(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    up = await change(gw, bought, "seats", {"quantity": 8})
    assert_succeeded(up)
    assert up["result"]["quantity"] == 8
    assert (await state(sim, bought))["quantity"] == 8
    down = await change(gw, bought, "seats", {"quantity": 5})
    assert_succeeded(down)
    assert (await state(sim, bought))["quantity"] == 5


async def test_a_reduction_below_the_floor_after_the_window_is_refused_without_a_patch(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    await sim.advance("P8D")
    assert_succeeded(await change(gw, bought, "seats", {"quantity": 8}))  # 3 new seats
    before = await patches(sim, bought)
    refused = await change(gw, bought, "seats", {"quantity": 4})
    assert_refused(refused, "the lowest quantity allowed now is 5 (asked 4)")
    assert await patches(sim, bought) == before
    assert (await state(sim, bought))["quantity"] == 8
    assert_succeeded(await change(gw, bought, "seats", {"quantity": 6}))
    assert (await state(sim, bought))["quantity"] == 6


async def test_a_cancel_inside_the_window_deletes_the_subscription(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    op = await change(gw, bought, "cancel", {"reason": "Other", "comment": "ordered by mistake"})
    assert_succeeded(op)
    assert op["result"]["status"] == "deleted"
    assert (await state(sim, bought))["status"] == "deleted"


async def test_a_cancel_after_168_hours_is_refused_with_the_windows_date_without_a_patch(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    until = datetime.fromisoformat((await state(sim, bought))["cancellationAllowedUntilDate"])
    await sim.advance("PT169H")
    before = await patches(sim, bought)
    op = await change(gw, bought, "cancel", {"reason": "Other"})
    closed = until.strftime("%Y-%m-%dT%H:%MZ")
    assert closed == "2026-01-12T09:00Z"
    assert_refused(op, f"The 168-hour cancellation window closed on {closed}")
    assert await patches(sim, bought) == before
    assert (await state(sim, bought))["status"] == "active"


async def test_a_suspended_subscription_refuses_seat_changes_until_resumed(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    assert_succeeded(await change(gw, bought, "suspend"))
    assert (await state(sim, bought))["status"] == "suspended"
    before = await patches(sim, bought)
    assert_refused(await change(gw, bought, "seats", {"quantity": 7}), "suspended")
    assert await patches(sim, bought) == before
    assert_succeeded(await change(gw, bought, "resume"))
    assert (await state(sim, bought))["status"] == "active"
    assert_succeeded(await change(gw, bought, "seats", {"quantity": 7}))
    assert (await state(sim, bought))["quantity"] == 7


async def test_resuming_an_active_subscription_is_refused(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    assert_refused(await change(gw, bought, "resume"), "not suspended (it is active)")
    assert await patches(sim, bought) == []


async def test_auto_renew_turns_off_and_on(gw: Gateway, sim: PartnerClient, bought: Bought) -> None:
    assert (await state(sim, bought))["autoRenewEnabled"] is True
    off = await change(gw, bought, "auto-renew", {"enabled": False})
    assert_succeeded(off)
    assert off["result"]["autoRenewEnabled"] is False
    assert (await state(sim, bought))["autoRenewEnabled"] is False
    assert_succeeded(await change(gw, bought, "auto-renew", {"enabled": True}))
    assert (await state(sim, bought))["autoRenewEnabled"] is True


async def test_a_seat_change_keeps_auto_renew_off(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    """Microsoft's PATCH replaces the whole subscription: one change must not undo another."""
    assert_succeeded(await change(gw, bought, "auto-renew", {"enabled": False}))
    assert_succeeded(await change(gw, bought, "seats", {"quantity": 6}))
    after = await state(sim, bought)
    assert (after["quantity"], after["autoRenewEnabled"]) == (6, False)


@pytest.mark.parametrize(
    ("action", "body"),
    [("seats", {"quantity": 6}), ("suspend", {}), ("resume", {}),
     ("auto-renew", {"enabled": False}), ("cancel", {"reason": "Other"})],
)  # fmt: skip
async def test_a_change_to_a_deleted_subscription_is_refused(
    gw: Gateway, sim: PartnerClient, bought: Bought, action: str, body: dict[str, Any]
) -> None:
    assert_succeeded(await change(gw, bought, "cancel", {"reason": "Other"}))
    before = await patches(sim, bought)
    assert_refused(await change(gw, bought, action, body), "deleted")
    assert await patches(sim, bought) == before


async def test_a_change_to_an_unknown_subscription_fails_with_microsofts_code(
    gw: Gateway, bought: Bought
) -> None:
    ghost = Bought(bought.customer, "00000000-0000-4000-8000-000000000000")
    op = await change(gw, ghost, "seats", {"quantity": 6})
    assert op["status"] == "failed", op
    assert op["error"]["partnerCenterStatus"] == 404
    assert op["error"]["partnerCenterCode"] == 20003


async def test_a_change_during_a_renewal_waits_out_the_409_then_succeeds(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    await sim.sim("POST", "/clock/advance", {"to": "2027-01-05T01:00:00Z"})  # renewal runs PT6H
    accepted = await gw.submit(f"{bought.path}/seats", {"quantity": 7})
    waiting = await _retried(gw, accepted["id"])
    assert waiting["status"] == "running"
    [step] = waiting["steps"]
    assert step["status"] == "waiting"
    conflicts = [p for p in await patches(sim, bought) if p["status"] == 409]
    assert len(conflicts) >= 2
    assert {p["msRequestId"] for p in conflicts} == {step["msRequestId"]}
    await sim.advance("PT6H")
    op = await gw.wait(accepted["id"])
    assert_succeeded(op)
    assert (await state(sim, bought))["quantity"] == 7


async def _retried(gw: Gateway, op_id: str) -> dict[str, Any]:
    """The operation once its step has been tried at least twice."""
    while True:
        op = await gw.operation(op_id)
        assert op["status"] not in ("succeeded", "failed"), op
        steps = op["steps"]
        if steps and steps[0]["attempts"] >= 2 and steps[0]["status"] == "waiting":
            return op
        await asyncio.sleep(0.02)


def assert_timed_steps(op: dict[str, Any]) -> None:
    """Every step names its ``MS-RequestId`` and when it started and finished."""
    assert op["steps"], op
    created = datetime.fromisoformat(op["createdAt"])
    for step in op["steps"]:
        assert uuid.UUID(step["msRequestId"])
        started = datetime.fromisoformat(step["startedAt"])
        assert created <= started <= datetime.fromisoformat(step["finishedAt"])


async def test_every_write_lists_its_steps_with_the_request_id_each_sent(
    gw: Gateway, sim: PartnerClient
) -> None:
    purchase = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert_timed_steps(purchase)
    journal = (await sim.sim("GET", "/requests?limit=1000"))["items"]
    sent_posts = {r["msRequestId"] for r in journal if r["method"] == "POST"}
    for name in ("create_customer", "accept_mca", "create_cart", "checkout"):
        step = next(s for s in purchase["steps"] if s["name"] == name)
        assert step["msRequestId"] in sent_posts, name
    [sub_id] = purchase["result"]["subscriptionIds"]
    sub = Bought(purchase["result"]["customerId"], sub_id)
    for action, body in [("seats", {"quantity": 9}), ("auto-renew", {"enabled": False}),
                         ("suspend", {}), ("resume", {}), ("cancel", {"reason": "Other"})]:  # fmt: skip
        op = await change(gw, sub, action, body)
        assert_succeeded(op)
        assert_timed_steps(op)
        [step] = op["steps"]
        assert (step["name"], step["status"], step["attempts"]) == (
            "update_subscription",
            "succeeded",
            1,
        )
        [last_patch, *_] = await patches(sim, sub)
        assert (last_patch["msRequestId"], last_patch["status"]) == (step["msRequestId"], 200)


async def test_seats_above_the_offers_range_are_refused_without_a_patch(
    gw: Gateway, sim: PartnerClient, bought: Bought
) -> None:
    before = await patches(sim, bought)
    op = await change(gw, bought, "seats", {"quantity": 301})
    assert_refused(op, "outside this offer's range (1-300)")
    assert await patches(sim, bought) == before
    assert (await state(sim, bought))["quantity"] == 5
