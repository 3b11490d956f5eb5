"""The ``/_sim`` control plane: reset, clock, config, partners, tenants, journal, state, key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from simulator import SimulatorSettings, create_app
from tests.simulator.conftest import PROVIDER, RESELLER, PartnerClient, sign_in

START = "2026-01-05T09:00:00Z"
DEFAULT_CONFIG = {
    "renewalProcessing": "PT6H",
    "orderProvisioning": "PT0S",
    "sandboxLimits": False,
    "rateLimitPerMinute": 500,
}


async def sim_error(pc: PartnerClient, method: str, path: str, json: Any, status: int) -> str:
    resp = await pc.http.request(method, f"/_sim{path}", json=json)
    body = await resp.json()
    assert resp.status == status, body
    assert set(body) == {"code", "description", "data", "source"}
    assert body["source"] == "Simulator"
    return str(body["description"])


# -- reset -----------------------------------------------------------------------------------


async def test_reset_clears_state_clock_config_and_faults(pc: PartnerClient) -> None:
    await pc.new_customer("before-reset.onmicrosoft.com")
    await pc.advance("P3D")
    await pc.sim("PUT", "/config", {"rateLimitPerMinute": 7, "orderProvisioning": "PT1H"})
    await pc.sim("POST", "/faults", {"path": "^/v1/orders$", "status": 500}, status=201)

    assert await pc.sim("POST", "/reset", status=204) is None

    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 0
    assert (await pc.sim("GET", "/clock"))["now"] == START
    config = await pc.sim("GET", "/config")
    assert {k: config[k] for k in DEFAULT_CONFIG} == DEFAULT_CONFIG
    assert (await pc.sim("GET", "/faults"))["items"] == []


async def test_the_same_calls_after_reset_give_the_same_ids(pc: PartnerClient) -> None:
    first = await pc.new_customer("same-ids.onmicrosoft.com")
    await pc.sim("POST", "/reset", status=204)
    again = await pc.new_customer("same-ids.onmicrosoft.com")
    assert again["id"] == first["id"]


# -- clock -----------------------------------------------------------------------------------


async def test_clock_starts_at_the_fixed_instant(pc: PartnerClient) -> None:
    assert await pc.sim("GET", "/clock") == {"now": START}


async def test_advance_by_a_duration_moves_now(pc: PartnerClient) -> None:
    body = await pc.sim("POST", "/clock/advance", {"by": "P1DT2H30M"})
    assert body == {"now": "2026-01-06T11:30:00Z", "events": []}
    assert (await pc.sim("GET", "/clock"))["now"] == "2026-01-06T11:30:00Z"


async def test_advance_to_an_instant_moves_now(pc: PartnerClient) -> None:
    body = await pc.sim("POST", "/clock/advance", {"to": "2027-01-02T00:00:00Z"})
    assert body["now"] == "2027-01-02T00:00:00Z"


async def test_advance_reports_due_events_in_time_order(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    events = await pc.advance("P400D")
    assert events, "a year-long subscription must close its window and renew"
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    for event in events:
        assert set(event) == {"type", "at", "resourceUri"}
    closed = [e for e in events if e["type"] == "cancellationWindowClosed"]
    assert closed[0]["at"] == sub["cancellationAllowedUntilDate"]
    assert sub["id"] in closed[0]["resourceUri"]
    types = [e["type"] for e in events]
    assert types.index("renewalStarted") < types.index("renewalCompleted")
    assert customer_id in events[-1]["resourceUri"]


async def test_advance_backwards_is_400_from_the_simulator(pc: PartnerClient) -> None:
    await pc.advance("P2D")
    text = await sim_error(pc, "POST", "/clock/advance", {"to": "2026-01-05T00:00:00Z"}, 400)
    assert "backwards" in text
    assert (await pc.sim("GET", "/clock"))["now"] == "2026-01-07T09:00:00Z"


@pytest.mark.parametrize(
    "body",
    [
        {"by": "eight days"},
        {"by": "P"},
        {"by": "-P1D"},
        {"by": "P1M"},
        {"by": 8},
        {"by": "P9999999999D"},
        {"by": "P999999999D"},
        {"to": "tomorrow"},
        {},
        {"by": "P1D", "to": "2027-01-01T00:00:00Z"},
    ],
)
async def test_a_bad_advance_is_400_and_leaves_the_clock(
    pc: PartnerClient, body: dict[str, Any]
) -> None:
    await sim_error(pc, "POST", "/clock/advance", body, 400)
    assert (await pc.sim("GET", "/clock"))["now"] == START


async def test_advance_with_malformed_json_is_400(pc: PartnerClient) -> None:
    resp = await pc.http.post("/_sim/clock/advance", data=b"{by:")
    assert resp.status == 400
    assert (await resp.json())["source"] == "Simulator"


# -- config ----------------------------------------------------------------------------------


async def test_config_has_the_documented_defaults(pc: PartnerClient) -> None:
    config = await pc.sim("GET", "/config")
    assert {k: config[k] for k in DEFAULT_CONFIG} == DEFAULT_CONFIG


async def test_put_config_is_partial_and_answers_the_whole_config(pc: PartnerClient) -> None:
    body = await pc.sim("PUT", "/config", {"renewalProcessing": "PT12H"})
    assert body == {**(await pc.sim("GET", "/config")), "renewalProcessing": "PT12H"}
    assert body["rateLimitPerMinute"] == 500
    assert set(DEFAULT_CONFIG) <= set(body)


async def test_an_unknown_config_key_is_named_as_sent(pc: PartnerClient) -> None:
    text = await sim_error(pc, "PUT", "/config", {"rateLimitPerMinut": 3}, 400)
    assert "unknown config key(s): rateLimitPerMinut" in text
    assert "rateLimitPerMinute" in text


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"renewalProcesing": "PT1H"}, "renewalprocesing"),
        ({"rateLimitPerMinute": -1}, "ratelimitperminute"),
        ({"orderProvisioning": "-PT1H"}, "orderprovisioning"),
        ({"orderProvisioning": "soon"}, "orderprovisioning"),
        ({"sandboxLimits": "maybe"}, "sandboxlimits"),
        ({"rateLimitPerMinute": True}, "ratelimitperminute"),
    ],
)
async def test_a_bad_config_change_is_400_naming_the_key_and_changes_nothing(
    pc: PartnerClient, body: dict[str, Any], word: str
) -> None:
    before = await pc.sim("GET", "/config")
    text = await sim_error(pc, "PUT", "/config", {**body, "renewalProcessing": "PT1H"}, 400)
    assert word in text.lower()
    assert await pc.sim("GET", "/config") == before


# -- partners, tenants, relationships --------------------------------------------------------


@pytest.mark.parametrize("kind", ["indirect_provider", "indirect_reseller", "direct"])
async def test_a_new_partner_can_sign_in_and_is_found_by_mpn(pc: PartnerClient, kind: str) -> None:
    made = await pc.sim(
        "POST", "/partners", {"name": f"New {kind}", "kind": kind, "country": "DE"}, status=201
    )
    assert {
        "tenantId",
        "mpnId",
        "name",
        "kind",
        "country",
        "domain",
        "clientId",
        "clientSecret",
    } <= set(made)
    assert (made["name"], made["kind"], made["country"]) == (f"New {kind}", kind, "DE")
    assert made["mpnId"].isdigit()
    assert made["domain"].endswith(".onmicrosoft.com")
    new = await sign_in(pc.http, made["clientId"], made["clientSecret"], made["tenantId"])
    assert (await new.ok("GET", "/v1/profiles/mpn"))["mpnId"] == made["mpnId"]
    found = await pc.ok("GET", f"/v1/profiles/mpn?mpnId={made['mpnId']}")
    assert found["partnerName"] == f"New {kind}"


async def test_a_new_partner_keeps_a_given_mpn_id_and_domain(pc: PartnerClient) -> None:
    made = await pc.sim(
        "POST",
        "/partners",
        {
            "name": "Given",
            "kind": "direct",
            "country": "US",
            "mpnId": "7654321",
            "domain": "given.onmicrosoft.com",
        },
        status=201,
    )
    assert (made["mpnId"], made["domain"]) == ("7654321", "given.onmicrosoft.com")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "X", "kind": "distributor", "country": "US"},
        {"name": "X", "kind": "direct", "country": "USA"},
        {"name": "X", "kind": "direct", "country": "US", "mpnId": "12ab"},
        {"kind": "direct", "country": "US"},
    ],
)
async def test_a_bad_partner_is_400_and_adds_nobody(
    pc: PartnerClient, body: dict[str, Any]
) -> None:
    before = len((await pc.sim("GET", "/state"))["partners"])
    await sim_error(pc, "POST", "/partners", body, 400)
    assert len((await pc.sim("GET", "/state"))["partners"]) == before


async def test_a_taken_mpn_id_is_refused(pc: PartnerClient) -> None:
    body = {"name": "Dup", "kind": "direct", "country": "US", "mpnId": PROVIDER["mpn_id"]}
    await sim_error(pc, "POST", "/partners", body, 409)


async def indirect_resellers(pc: PartnerClient) -> list[str]:
    body = await pc.ok(
        "GET", "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf"
    )
    return [r["id"] for r in body["items"]]


async def test_an_accepted_provider_invitation_lists_the_reseller(pc: PartnerClient) -> None:
    made = await pc.sim(
        "POST",
        "/partners",
        {"name": "Invited", "kind": "indirect_reseller", "country": "IT"},
        status=201,
    )
    assert made["tenantId"] not in await indirect_resellers(pc)
    await pc.sim(
        "POST",
        f"/partners/{made['tenantId']}/accept-provider-invitation",
        {"providerTenantId": PROVIDER["tenant_id"]},
    )
    assert made["tenantId"] in await indirect_resellers(pc)
    assert RESELLER["tenant_id"] in await indirect_resellers(pc)


async def test_accepting_an_invitation_from_a_non_provider_is_400(pc: PartnerClient) -> None:
    made = await pc.sim(
        "POST", "/partners", {"name": "R", "kind": "indirect_reseller", "country": "IT"}, status=201
    )
    body = {"providerTenantId": RESELLER["tenant_id"]}
    await sim_error(
        pc, "POST", f"/partners/{made['tenantId']}/accept-provider-invitation", body, 400
    )
    assert made["tenantId"] not in await indirect_resellers(pc)


async def test_an_existing_tenant_joins_a_partner_on_accepting_the_relationship(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    tenant = await pc.sim(
        "POST",
        "/tenants",
        {"domain": "existing.onmicrosoft.com", "companyName": "Existing", "country": "US"},
        status=201,
    )
    assert tenant["domain"] == "existing.onmicrosoft.com"
    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 0
    for partner in (pc, direct_pc):
        await pc.sim(
            "POST",
            f"/tenants/{tenant['tenantId']}/accept-relationship",
            {"partnerTenantId": partner.tenant_id},
        )
    for partner in (pc, direct_pc):
        listed = await partner.ok("GET", "/v1/customers")
        assert [c["id"] for c in listed["items"]] == [tenant["tenantId"]]


async def test_accept_relationship_works_for_a_customer_a_partner_created(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer = await pc.new_customer("shared.onmicrosoft.com")
    await pc.sim(
        "POST",
        f"/tenants/{customer['id']}/accept-relationship",
        {"partnerTenantId": direct_pc.tenant_id},
    )
    assert (await direct_pc.ok("GET", f"/v1/customers/{customer['id']}"))["id"] == customer["id"]
    assert (await pc.ok("GET", f"/v1/customers/{customer['id']}"))["id"] == customer["id"]


async def test_a_tenant_with_a_taken_domain_is_refused(pc: PartnerClient) -> None:
    await pc.new_customer("taken.onmicrosoft.com")
    body = {"domain": "taken.onmicrosoft.com", "companyName": "Again", "country": "US"}
    text = await sim_error(pc, "POST", "/tenants", body, 409)
    assert "taken.onmicrosoft.com" in text


async def test_accept_relationship_for_an_unknown_tenant_is_404(pc: PartnerClient) -> None:
    await sim_error(
        pc,
        "POST",
        "/tenants/00000000-0000-4000-8000-000000000000/accept-relationship",
        {"partnerTenantId": PROVIDER["tenant_id"]},
        404,
    )


# -- request journal, state ------------------------------------------------------------------


async def test_requests_lists_the_newest_first_with_ids_and_simulated_time(
    pc: PartnerClient,
) -> None:
    await pc.advance("P1D")
    await pc.call(
        "GET", "/v1/customers", headers={"MS-RequestId": "r-1", "MS-CorrelationId": "c-1"}
    )
    await pc.call("GET", "/v1/nowhere", headers={"MS-RequestId": "r-2", "MS-CorrelationId": "c-2"})
    body = await pc.sim("GET", "/requests?limit=2")
    assert body["items"] == [
        {
            "method": "GET",
            "path": "/v1/nowhere",
            "status": 404,
            "msRequestId": "r-2",
            "msCorrelationId": "c-2",
            "at": "2026-01-06T09:00:00Z",
        },
        {
            "method": "GET",
            "path": "/v1/customers",
            "status": 200,
            "msRequestId": "r-1",
            "msCorrelationId": "c-1",
            "at": "2026-01-06T09:00:00Z",
        },
    ]


async def test_requests_leaves_out_control_plane_calls(pc: PartnerClient) -> None:
    await pc.ok("GET", "/v1/customers")
    await pc.sim("GET", "/clock")
    items = (await pc.sim("GET", "/requests?limit=1"))["items"]
    assert items[0]["path"] == "/v1/customers"


async def test_requests_with_a_bad_limit_is_400(pc: PartnerClient) -> None:
    await sim_error(pc, "GET", "/requests?limit=ten", None, 400)


async def test_state_dumps_partners_customers_and_subscriptions(pc: PartnerClient) -> None:
    customer_id, sub = await pc.customer_with_subscription()
    state = await pc.sim("GET", "/state")
    assert state["now"] == START
    assert PROVIDER["tenant_id"] in [p["tenantId"] for p in state["partners"]]
    assert customer_id in [c["tenantId"] for c in state["customers"]]
    assert sub["id"] in [s["id"] for s in state["subscriptions"]]
    assert len(state["orders"]) == 1


async def test_an_unknown_control_route_is_404_from_the_simulator(pc: PartnerClient) -> None:
    await sim_error(pc, "GET", "/nowhere", None, 404)


# -- control key -----------------------------------------------------------------------------


@pytest.fixture
async def keyed() -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(SimulatorSettings(control_key="s3cret"))
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.mark.parametrize("headers", [{}, {"X-Sim-Key": "wrong"}, {"X-Sim-Key": "sëcret"}])
async def test_a_control_key_refuses_calls_without_it(
    keyed: TestClient[Any, Any], headers: dict[str, str]
) -> None:
    resp = await keyed.post("/_sim/clock/advance", json={"by": "P1D"}, headers=headers)
    assert resp.status == 401
    assert (await resp.json())["source"] == "Simulator"
    ok = await keyed.get("/_sim/clock", headers={"X-Sim-Key": "s3cret"})
    assert (await ok.json())["now"] == START


async def test_a_control_key_lets_calls_with_it_through(keyed: TestClient[Any, Any]) -> None:
    resp = await keyed.post(
        "/_sim/clock/advance", json={"by": "P1D"}, headers={"X-Sim-Key": "s3cret"}
    )
    assert resp.status == 200
    assert (await resp.json())["now"] == "2026-01-06T09:00:00Z"


async def test_a_control_key_does_not_guard_v1(keyed: TestClient[Any, Any]) -> None:
    pc = await sign_in(
        keyed, PROVIDER["client_id"], PROVIDER["client_secret"], PROVIDER["tenant_id"]
    )
    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 0
