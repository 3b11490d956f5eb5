"""Sign-in (Entra v1 and v2 shapes) and the bearer check in front of every ``/v1`` call."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.simulator.conftest import DIRECT, PROVIDER, PartnerClient, sign_in

PC = "https://api.partnercenter.microsoft.com"
GRAPH = "https://graph.windows.net"


def form(**overrides: str) -> dict[str, str]:
    out = {
        "grant_type": "client_credentials",
        "client_id": PROVIDER["client_id"],
        "client_secret": PROVIDER["client_secret"],
    }
    out.update(overrides)
    return out


async def token(http: TestClient[Any, Any], v2: bool = False, **fields: str) -> tuple[int, Any]:
    path = "oauth2/v2.0/token" if v2 else "oauth2/token"
    resp = await http.post(f"/{PROVIDER['tenant_id']}/{path}", data=form(**fields))
    return resp.status, await resp.json()


@pytest.mark.parametrize("resource", [PC, GRAPH])
async def test_v1_sign_in_answers_expires_in_as_a_string_and_echoes_the_resource(
    http: TestClient[Any, Any], resource: str
) -> None:
    status, body = await token(http, resource=resource)
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == "3600"
    assert body["resource"] == resource
    assert body["access_token"].count(".") == 2


@pytest.mark.parametrize("scope", [f"{PC}/.default", f"{GRAPH}/.default"])
async def test_v2_sign_in_answers_expires_in_as_a_number(
    http: TestClient[Any, Any], scope: str
) -> None:
    status, body = await token(http, v2=True, scope=scope)
    assert status == 200
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"


async def test_a_v2_token_works_on_v1_calls(http: TestClient[Any, Any]) -> None:
    _, body = await token(http, v2=True, scope=f"{PC}/.default")
    resp = await http.get(
        "/v1/profiles/mpn", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert resp.status == 200
    assert (await resp.json())["mpnId"] == PROVIDER["mpn_id"]


async def test_v1_sign_in_for_another_resource_is_invalid_resource(
    http: TestClient[Any, Any],
) -> None:
    status, body = await token(http, resource="https://management.azure.com")
    assert (status, body["error"]) == (400, "invalid_resource")


async def test_v2_sign_in_for_another_scope_is_invalid_scope(http: TestClient[Any, Any]) -> None:
    status, body = await token(http, v2=True, scope="https://management.azure.com/.default")
    assert (status, body["error"]) == (400, "invalid_scope")


async def test_wrong_secret_is_401_invalid_client(http: TestClient[Any, Any]) -> None:
    status, body = await token(http, resource=PC, client_secret="nope")
    assert (status, body["error"]) == (401, "invalid_client")


async def test_a_non_ascii_secret_is_401_invalid_client_not_a_crash(
    http: TestClient[Any, Any],
) -> None:
    status, body = await token(http, resource=PC, client_secret="pässwörd")
    assert (status, body["error"]) == (401, "invalid_client")


async def test_unknown_client_is_400_invalid_client(http: TestClient[Any, Any]) -> None:
    status, body = await token(http, resource=PC, client_id="99999999-9999-4999-8999-999999999999")
    assert (status, body["error"]) == (400, "invalid_client")


async def test_a_grant_other_than_client_credentials_is_refused(
    http: TestClient[Any, Any],
) -> None:
    status, body = await token(http, resource=PC, grant_type="password")
    assert (status, body["error"]) == (400, "unsupported_grant_type")


async def access_denied(http: TestClient[Any, Any], headers: dict[str, str]) -> None:
    resp = await http.get("/v1/customers", headers=headers)
    assert resp.status == 401
    assert await resp.json() == {
        "code": 400,
        "description": "Access denied",
        "data": [],
        "source": "PartnerFD",
    }


async def test_v1_without_a_bearer_is_401_access_denied(http: TestClient[Any, Any]) -> None:
    await access_denied(http, {})


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
        "Bearer a.b.c",
        "Bearer é.é.é",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJ0aWQiOiJ4In0.c2lnbmF0dXJl",
    ],
)
async def test_v1_with_a_bad_or_garbled_bearer_is_401_access_denied(
    http: TestClient[Any, Any], authorization: str
) -> None:
    await access_denied(http, {"Authorization": authorization})


async def test_a_token_with_a_tampered_payload_is_refused(pc: PartnerClient) -> None:
    header, _, signature = pc.token.split(".")
    forged = f"{header}.eyJ0aWQiOiI0YzJiMWYzZS03ZDZhLTRlNWItOWM4ZC0wMDAwMDAwMDAwMDMifQ.{signature}"
    await access_denied(pc.http, {"Authorization": f"Bearer {forged}"})


async def test_a_token_still_works_after_reset(pc: PartnerClient) -> None:
    await pc.sim("POST", "/reset", status=204)
    profile = await pc.ok("GET", "/v1/profiles/mpn")
    assert profile["mpnId"] == PROVIDER["mpn_id"]


async def test_a_partner_cannot_see_another_partners_customer(
    pc: PartnerClient, direct_pc: PartnerClient
) -> None:
    customer = await pc.new_customer("isolated.onmicrosoft.com")
    body = await direct_pc.fail("GET", f"/v1/customers/{customer['id']}", None, 403, 20002)
    assert DIRECT["tenant_id"] in body["description"]
    listed = await direct_pc.ok("GET", "/v1/customers")
    assert customer["id"] not in [c["id"] for c in listed["items"]]


async def test_a_token_of_a_partner_created_before_reset_is_refused_after_it(
    pc: PartnerClient,
) -> None:
    made = await pc.sim(
        "POST", "/partners", {"name": "Gone Ltd", "kind": "direct", "country": "US"}, status=201
    )
    gone = await sign_in(pc.http, made["clientId"], made["clientSecret"], made["tenantId"])
    await gone.ok("GET", "/v1/profiles/mpn")
    await pc.sim("POST", "/reset", status=204)
    await access_denied(pc.http, {"Authorization": f"Bearer {gone.token}"})
