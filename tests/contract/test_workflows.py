"""Gateway workflows replayed from their recorded Partner Center conversations (see conftest):
what the marketplace sees must be the same with a live simulator and with only a cassette."""

from __future__ import annotations

from typing import Any

from adapters.recording.cassettes import REDACTED, Interaction, Tape
from tests.contract.conftest import Upstream
from tests.gateway.conftest import Gateway, purchase_order

SUBSCRIPTION_PATH = "/v1/customers/{customer}/subscriptions/{subscription}"


async def purchase(gw: Gateway) -> dict[str, Any]:
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op
    return op


async def change(gw: Gateway, bought: dict[str, Any], action: str, body: Any) -> dict[str, Any]:
    [sub] = bought["result"]["subscriptionIds"]
    path = SUBSCRIPTION_PATH.format(customer=bought["result"]["customerId"], subscription=sub)
    return await gw.wait((await gw.submit(f"{path}/{action}", body))["id"])


def calls(tape: Tape, method: str, suffix: str) -> list[Interaction]:
    return [i for i in tape.interactions() if i.method == method and i.path.endswith(suffix)]


def step(op: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [s for s in op["steps"] if s["name"] == name]
    return dict(found)


async def test_a_new_tenant_purchase_succeeds_from_its_recorded_conversation(
    gw: Gateway, tape: Tape
) -> None:
    op = await purchase(gw)
    assert [s["name"] for s in op["steps"]] == [
        "check_reseller", "check_domain", "create_customer", "accept_mca", "create_cart",
        "checkout", "await_provisioning",
    ]  # fmt: skip
    result = op["result"]
    assert result["adminCredentials"]["adminUserName"] == "admin@contoso.onmicrosoft.com"
    # the generated password never reached the cassette: an answer from it has the placeholder
    from_cassette = any(i.path == "/v1/customers" for i in tape.played())
    assert (result["adminCredentials"]["adminPassword"] == REDACTED) is from_cassette
    [estimate] = result["estimatedUsage"]
    assert (estimate["monthlyFee"], estimate["from"]) == (30.0, "2026-01-05")
    assert [i.status for i in calls(tape, "POST", "/oauth2/token")] == [200]
    assert [i.status for i in calls(tape, "POST", "/checkout")] == [201]


async def test_a_seat_change_patches_the_new_quantity(gw: Gateway, tape: Tape) -> None:
    bought = await purchase(gw)
    op = await change(gw, bought, "seats", {"quantity": 8})
    assert op["status"] == "succeeded", op
    assert op["result"]["quantity"] == 8
    [patch] = calls(tape, "PATCH", bought["result"]["subscriptionIds"][0])
    assert patch.status == 200


async def test_a_cancel_after_the_window_is_refused_with_its_date_and_never_patched(
    gw: Gateway, tape: Tape, upstream: Upstream
) -> None:
    bought = await purchase(gw)
    await upstream.advance("PT169H")  # recorded as the later Date of the answers that follow
    op = await change(gw, bought, "cancel", {"reason": "Other"})
    assert op["status"] == "failed", op
    assert "The 168-hour cancellation window closed on 2026-01-12T09:00Z" in op["error"]["message"]
    assert calls(tape, "PATCH", "") == []


async def test_a_503_is_retried_inside_the_call_and_replayed_attempt_by_attempt(
    gw: Gateway, tape: Tape, upstream: Upstream
) -> None:
    await upstream.fault(method="POST", path="^/v1/customers$", status=503, times=1)
    op = await purchase(gw)
    assert step(op, "create_customer")["attempts"] == 1  # absorbed by the adapter's retry
    attempts = [
        i for i in calls(tape, "POST", "/v1/customers") if i.path == "/v1/customers"
    ]  # fmt: skip
    assert [i.status for i in attempts] == [503, 201]
    if tape.replaying:
        played = [i for i in tape.played() if (i.method, i.path) == ("POST", "/v1/customers")]
        assert [i.status for i in played] == [503, 201]
