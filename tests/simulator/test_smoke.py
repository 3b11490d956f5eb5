"""One purchase end to end: the path every other simulator test builds on."""

from __future__ import annotations

from tests.simulator.conftest import PartnerClient


async def test_purchase_creates_an_active_subscription_with_a_168_hour_window(
    pc: PartnerClient,
) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    assert sub["status"] == "active"
    assert sub["quantity"] == 5
    assert sub["partnerId"] == "2000002"
    assert sub["creationDate"] == "2026-01-05T09:00:00Z"
    assert sub["cancellationAllowedUntilDate"] == "2026-01-12T09:00:00Z"
    assert sub["commitmentEndDate"] == "2027-01-04T00:00:00Z"
    assert sub["refundableQuantity"] == {
        "totalQuantity": 5,
        "details": [{"quantity": 5, "allowedUntilDateTime": "2026-01-12T09:00:00Z"}],
    }
    listed = await pc.ok("GET", f"/v1/customers/{customer_id}/subscriptions")
    assert [s["id"] for s in listed["items"]] == [sub["id"]]
