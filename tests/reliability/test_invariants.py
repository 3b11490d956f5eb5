"""The invariants see what they promise to: a clean run passes, then each kind of damage the
gateway must never do, done by hand to Partner Center behind its back, is named."""

from __future__ import annotations

import uuid

from tests.reliability.harness import Run
from tests.reliability.invariants import duplicated, foreign_request_ids, half_done, lost
from tests.reliability.workload import evidence
from tests.simulator.conftest import PartnerClient, line


async def test_a_clean_run_passes_and_each_kind_of_damage_is_named(
    run: Run, sim: PartnerClient
) -> None:
    bought, change = await run.driver.chain(["purchase", "change_seats"])
    assert [bought["status"], change["status"]] == ["succeeded", "succeeded"]
    assert await run.violations() == []
    customer, [sub_id] = bought["result"]["customerId"], bought["result"]["subscriptionIds"]
    path = f"/v1/customers/{customer}/subscriptions/{sub_id}"

    # a second cart for the purchase's customer, under an id no step of the journal holds
    stray = str(uuid.uuid4())
    await sim.ok("POST", f"/v1/customers/{customer}/carts", {"lineItems": [line()]},
                 status=201, headers={"MS-RequestId": stray})  # fmt: skip
    # the subscription changed again by someone else, counted by Partner Center
    current = await sim.ok("GET", path)
    await sim.ok("PATCH", path, {**current, "quantity": current["quantity"] + 1})
    # an operation the marketplace was told about that the journal does not hold
    missing = str(uuid.uuid4())

    found = await evidence(run.http, run.control, run.url, [*run.driver.tally.submitted, missing])
    assert lost(found) == [f"operation {missing} was accepted (202) but is not in the journal"]
    doubled = duplicated(found)
    domain = f"{bought['request']['customer']['newTenant']['domainPrefix']}.onmicrosoft.com"
    assert f"purchase {bought['id']}: 2 carts for {domain}" in doubled
    assert f"subscription {sub_id}: 2 updates for 1 changes that succeeded" in doubled
    assert any(f"subscription {sub_id} is " in v for v in half_done(found))
    [foreign] = foreign_request_ids(found)
    assert foreign.startswith(f"POST /v1/customers/{customer}/carts (201) went out under "
                              f"MS-RequestId {stray}, which no journaled step holds")  # fmt: skip
