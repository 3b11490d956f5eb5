"""Money the marketplace sees: the refund a cancel or a seat reduction inside the window earns
(prorated by day, full on the first day — seed ``000_…``), on the gateway operation's result;
and the "estimated usage" of a first, partial month (seed ``002_…``: recurring fee / days in the
month x days left).

Business Basic P1Y billed monthly costs 6.00 a seat a month; bought 2026-01-05T09:00Z, its first
billing period runs 2026-01-05 to 2026-02-05 (31 days)."""

from __future__ import annotations

from datetime import date
from typing import Any

from gateway import money
from gateway.upstream import Reply
from tests.gateway.conftest import Gateway, purchase_order
from tests.gateway.test_scheduled_changes import bought  # noqa: F401 (fixture)
from tests.gateway.test_subscription_ops import Bought, assert_succeeded, change
from tests.simulator.conftest import PartnerClient


async def test_a_cancel_on_the_first_day_is_refunded_in_full(
    gw: Gateway,
    sim: PartnerClient,
    bought: Bought,  # noqa: F811
) -> None:
    await sim.advance("PT23H")
    op = await change(gw, bought, "cancel", {"reason": "Other"})
    assert_succeeded(op)
    assert op["result"]["refund"] == {"amount": 30.0, "currency": "USD", "seats": 5, "full": True}


async def test_a_cancel_after_two_days_is_refunded_for_the_unused_days(
    gw: Gateway,
    sim: PartnerClient,
    bought: Bought,  # noqa: F811
) -> None:
    await sim.advance("PT49H")
    op = await change(gw, bought, "cancel", {"reason": "Other"})
    assert_succeeded(op)
    # 5 seats x 6.00 for 31 days, 2 whole days used: 30 x 29 / 31
    assert op["result"]["refund"] == {"amount": 28.06, "currency": "USD", "seats": 5,
                                      "full": False}  # fmt: skip


async def test_a_reduction_refunds_only_the_removed_seats(
    gw: Gateway,
    sim: PartnerClient,
    bought: Bought,  # noqa: F811
) -> None:
    await sim.advance("PT30H")
    op = await change(gw, bought, "seats", {"quantity": 3})
    assert_succeeded(op)
    assert op["result"]["refund"] == {"amount": 11.61, "currency": "USD", "seats": 2,
                                      "full": False}  # fmt: skip


async def test_seats_added_mid_period_and_removed_the_same_day_are_refunded_in_full(
    gw: Gateway,
    sim: PartnerClient,
    bought: Bought,  # noqa: F811
) -> None:
    await sim.advance("P10D")
    assert_succeeded(await change(gw, bought, "seats", {"quantity": 8}))
    await sim.advance("PT2H")
    op = await change(gw, bought, "seats", {"quantity": 5})
    assert_succeeded(op)
    # charged 3 x 6.00 for the 21 days from 2026-01-15 to 2026-02-05
    assert op["result"]["refund"] == {"amount": 12.19, "currency": "USD", "seats": 3,
                                      "full": True}  # fmt: skip


async def test_an_increase_and_a_suspend_carry_no_refund(
    gw: Gateway,
    bought: Bought,  # noqa: F811
) -> None:
    up = await change(gw, bought, "seats", {"quantity": 8})
    assert_succeeded(up)
    assert "refund" not in up["result"]
    suspended = await change(gw, bought, "suspend", {})
    assert_succeeded(suspended)
    assert "refund" not in suspended["result"]


# -- estimated usage -------------------------------------------------------------------------------


def test_estimated_usage_is_the_fee_per_day_of_the_month_times_the_days_left() -> None:
    # 30.00 a month, bought 5 January: 27 of 31 days left
    assert money.estimated_usage(30.0, date(2026, 1, 5)) == 26.13
    assert money.estimated_usage(30.0, date(2026, 1, 1)) == 30.0
    assert money.estimated_usage(28.0, date(2026, 2, 28)) == 1.0


def test_the_monthly_fee_spreads_the_billing_period_price() -> None:
    assert money.monthly_fee(72.0, "annual", 5) == 30.0
    assert money.monthly_fee(6.0, "monthly", 5) == 30.0


class SimulatorAsPartnerCenter:
    """The gateway's Partner Center interface over the simulator's signed-in test client."""

    def __init__(self, sim: PartnerClient) -> None:
        self.sim = sim

    async def call(self, method: str, path: str, **_: Any) -> Reply:
        resp = await self.sim.call(method, path)
        return Reply(resp.status, await resp.json(), resp.headers, "")


async def test_a_purchase_s_estimates_come_from_partner_center_s_order_prices(
    gw: Gateway, sim: PartnerClient
) -> None:
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert_succeeded(op)
    customer = op["result"]["customerId"]
    estimates = await money.purchase_estimates(
        SimulatorAsPartnerCenter(sim), customer, op["result"]["orderIds"]
    )
    assert estimates == [
        {
            "subscriptionId": op["result"]["subscriptionIds"][0],
            "monthlyFee": 30.0,
            "estimatedUsage": 26.13,
            "currency": "USD",
            "from": "2026-01-05",
        }
    ]
