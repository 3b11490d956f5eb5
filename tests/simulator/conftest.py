"""The simulator in-process, driven over real HTTP (aiohttp's test server on a free port).

``pc`` is a signed-in client for the default indirect provider; ``pc.as_partner(...)`` signs in
as another partner; ``pc.sim_*`` helpers drive the control plane.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from simulator import SimulatorSettings, create_app

PROVIDER = {
    "tenant_id": "4c2b1f3e-7d6a-4e5b-9c8d-000000000001",
    "client_id": "11111111-1111-4111-8111-111111111111",
    "client_secret": "provider-secret",
    "mpn_id": "1000001",
}
RESELLER = {
    "tenant_id": "4c2b1f3e-7d6a-4e5b-9c8d-000000000002",
    "client_id": "22222222-2222-4222-8222-222222222222",
    "client_secret": "reseller-secret",
    "mpn_id": "2000002",
}
DIRECT = {
    "tenant_id": "4c2b1f3e-7d6a-4e5b-9c8d-000000000003",
    "client_id": "33333333-3333-4333-8333-333333333333",
    "client_secret": "direct-secret",
    "mpn_id": "3000003",
}
BASIC = "CFQ7TTC0LH18:0001:CFQ7TTC0K971"


class PartnerClient:
    """A partner's view of the simulator: signed-in ``/v1`` calls plus ``/_sim`` helpers."""

    def __init__(self, http: TestClient[Any, Any], token: str, tenant_id: str) -> None:
        self.http = http
        self.token = token
        self.tenant_id = tenant_id

    async def call(
        self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return await self.http.request(method, path, json=json, headers=sent)

    async def ok(
        self, method: str, path: str, json: Any = None, status: int = 200, **kw: Any
    ) -> Any:
        """Call and assert the status; returns the JSON body (or None when empty)."""
        resp = await self.call(method, path, json, **kw)
        text = await resp.text()
        assert resp.status == status, f"{method} {path} -> {resp.status}: {text}"
        return await resp.json() if text else None

    async def fail(
        self, method: str, path: str, json: Any, status: int, code: int
    ) -> dict[str, Any]:
        """Call, assert a Partner Center error with this status and code; returns the body."""
        resp = await self.call(method, path, json)
        body = await resp.json()
        assert (resp.status, body.get("code")) == (status, code), body
        assert set(body) == {"code", "description", "data", "source"}
        return dict(body)

    async def sim(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        resp = await self.http.request(method, f"/_sim{path}", json=json)
        text = await resp.text()
        assert resp.status == status, f"{method} /_sim{path} -> {resp.status}: {text}"
        return await resp.json() if text else None

    async def advance(self, by: str) -> list[dict[str, Any]]:
        return list((await self.sim("POST", "/clock/advance", {"by": by}))["events"])

    async def as_partner(self, client_id: str, client_secret: str, tenant_id: str) -> PartnerClient:
        return await sign_in(self.http, client_id, client_secret, tenant_id)

    # -- purchase helpers ----------------------------------------------------------------------

    async def new_customer(self, domain: str, country: str = "US", **extra: Any) -> dict[str, Any]:
        body = customer_body(domain, country, **extra)
        return dict(await self.ok("POST", "/v1/customers", body, status=201))

    async def accept_mca(self, customer_id: str) -> None:
        await self.ok("POST", f"/v1/customers/{customer_id}/agreements", MCA_BODY, status=201)

    async def buy(
        self,
        customer_id: str,
        lines: list[dict[str, Any]] | None = None,
        attestation: bool | None = True,
    ) -> dict[str, Any]:
        """Create a cart and check it out; returns the checkout result."""
        cart = await self.ok(
            "POST",
            f"/v1/customers/{customer_id}/carts",
            {"lineItems": lines or [line()], "partnerOnRecordAttestationAccepted": attestation},
            status=201,
        )
        return dict(
            await self.ok(
                "POST", f"/v1/customers/{customer_id}/carts/{cart['id']}/checkout", status=201
            )
        )

    async def customer_with_subscription(
        self, domain: str = "contoso.onmicrosoft.com", country: str = "US", **line_args: Any
    ) -> tuple[str, dict[str, Any]]:
        """A new customer with MCA accepted and one purchased subscription."""
        customer = await self.new_customer(domain, country)
        await self.accept_mca(customer["id"])
        result = await self.buy(customer["id"], [line(**line_args)])
        sub_id = result["orders"][0]["lineItems"][0]["subscriptionId"]
        sub = await self.ok("GET", f"/v1/customers/{customer['id']}/subscriptions/{sub_id}")
        return customer["id"], dict(sub)


MCA_BODY = {
    "primaryContact": {"firstName": "Jane", "lastName": "Doe", "email": "jane@contoso.com"},
    "templateId": "117a77b0-9360-443b-8795-c6dedc750cf9",
    "dateAgreed": "2026-01-02T00:00:00Z",
    "type": "MicrosoftCustomerAgreement",
}


#: Microsoft's create-customer sample (PascalCase keys), with an onmicrosoft.com domain.
SAMPLE_CUSTOMER = {
    "enableGDAPByDefault": False,
    "CompanyProfile": {"Domain": "xyz.onmicrosoft.com"},
    "BillingProfile": {
        "Culture": "EN-US",
        "Email": "test@outlook.com",
        "Language": "en",
        "CompanyName": "test company",
        "DefaultAddress": {
            "FirstName": "Test",
            "LastName": "Test",
            "AddressLine1": "One Microsoft Way",
            "City": "Redmond",
            "State": "WA",
            "PostalCode": "98052",
            "Country": "US",
        },
    },
}


def customer_body(domain: str, country: str = "US", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "companyProfile": {"domain": domain},
        "billingProfile": {
            "email": "admin@example.com",
            "culture": "en-US",
            "language": "en",
            "companyName": "Contoso Ltd",
            "defaultAddress": {
                "firstName": "Jane",
                "lastName": "Doe",
                "addressLine1": "1 Main St",
                "city": "Springfield",
                "state": "WA",
                "postalCode": "98052",
                "country": country,
            },
        },
    }
    body.update(extra)
    return body


def line(
    catalog_item_id: str = BASIC,
    quantity: int = 5,
    term: str | None = "P1Y",
    cycle: str = "monthly",
    reseller: str | None = RESELLER["mpn_id"],
    additional: tuple[str, ...] = (),
) -> dict[str, Any]:
    participants = []
    if reseller:
        participants.append({"key": "transaction_reseller", "value": reseller})
    participants += [{"key": "additional_transaction_reseller", "value": a} for a in additional]
    out: dict[str, Any] = {
        "catalogItemId": catalog_item_id,
        "quantity": quantity,
        "billingCycle": cycle,
        "participants": participants,
    }
    if term:
        out["termDuration"] = term
    return out


async def sign_in(
    http: TestClient[Any, Any], client_id: str, client_secret: str, tenant_id: str
) -> PartnerClient:
    resp = await http.post(
        f"/{tenant_id}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "resource": "https://api.partnercenter.microsoft.com",
        },
    )
    body = await resp.json()
    assert resp.status == 200, body
    return PartnerClient(http, body["access_token"], tenant_id)


@pytest.fixture
async def http() -> AsyncIterator[TestClient[Any, Any]]:
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(SimulatorSettings())))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def pc(http: TestClient[Any, Any]) -> PartnerClient:
    """Signed in as the default indirect provider."""
    return await sign_in(
        http, PROVIDER["client_id"], PROVIDER["client_secret"], PROVIDER["tenant_id"]
    )


@pytest.fixture
async def reseller_pc(http: TestClient[Any, Any]) -> PartnerClient:
    return await sign_in(
        http, RESELLER["client_id"], RESELLER["client_secret"], RESELLER["tenant_id"]
    )


@pytest.fixture
async def direct_pc(http: TestClient[Any, Any]) -> PartnerClient:
    return await sign_in(http, DIRECT["client_id"], DIRECT["client_secret"], DIRECT["tenant_id"])
