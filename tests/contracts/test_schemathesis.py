"""Schemathesis against both apps over real HTTP, driven by the committed documents: no answer
is a 5xx, and every answer matches the schema its document gives for its status.

Bounded and deterministic: a few derandomized examples per operation (hypothesis's database off),
path parameters pinned to real ids so the answers are resources, not only 404s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance  # type: ignore[attr-defined]

from contracts.publish import HERE
from gateway.app import create_app as create_gateway
from simulator import SimulatorSettings
from simulator import create_app as create_simulator
from tests.contracts.served import Served
from tests.gateway.conftest import fast_settings, purchase_order
from tests.simulator.conftest import MCA_BODY, PROVIDER, customer_body, line

EXAMPLES = 12
CHECKS = [not_a_server_error, response_schema_conformance]


def _schema(name: str) -> Any:
    return schemathesis.openapi.from_dict(json.loads((HERE / name).read_text(encoding="utf-8")))


PC = _schema("partner-center.json")
GW = _schema("gateway.json")


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def _id(op: Any) -> str:
    return f"{op.method.upper()} {op.path}"


# -- the apps ----------------------------------------------------------------------------------


class Simulated:
    """The simulator with one customer that has an accepted MCA, a cart, an order and a
    subscription, signed in as the default provider."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        token = self.http.post(
            f"{url}/{PROVIDER['tenant_id']}/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": PROVIDER["client_id"],
                "client_secret": PROVIDER["client_secret"],
                "resource": "https://api.partnercenter.microsoft.com",
            },
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        # Hundreds of calls a minute are the point here, not the front door's rate limit.
        self.http.put(f"{url}/_sim/config", json={"rateLimitPerMinute": 0}).raise_for_status()
        self.ids = self._world()

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        resp = self.http.request(method, self.url + path, json=body, headers=self.headers)
        assert resp.status_code == status, resp.text
        return resp.json() if resp.content else None

    def _world(self) -> dict[str, str]:
        customer = self.call("POST", "/v1/customers", customer_body("contoso.onmicrosoft.com"), 201)
        c = f"/v1/customers/{customer['id']}"
        self.call("POST", f"{c}/agreements", MCA_BODY, 201)
        cart = self.call(
            "POST", f"{c}/carts",
            {"lineItems": [line()], "partnerOnRecordAttestationAccepted": True}, 201,
        )  # fmt: skip
        checkout = self.call("POST", f"{c}/carts/{cart['id']}/checkout", None, 201)
        open_cart = self.call(
            "POST", f"{c}/carts",
            {"lineItems": [line()], "partnerOnRecordAttestationAccepted": True}, 201,
        )  # fmt: skip
        self.http.post(f"{self.url}/_sim/clock/advance", json={"by": "PT1H"})
        sub = self.call("GET", f"{c}/subscriptions")["items"][0]
        product, sku, availability = sub["offerId"].split(":")
        return {
            "customer": customer["id"],
            "cart": open_cart["id"],
            "order": checkout["orders"][0]["id"],
            "subscription": sub["id"],
            "product": product,
            "sku": sku,
            "availability": availability,
            "tenant": PROVIDER["tenant_id"],
            "domain": "contoso.onmicrosoft.com",
        }


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    server = Served()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def simulator(served: Served) -> Simulated:
    return Simulated(served.start(lambda: create_simulator(SimulatorSettings())))


@pytest.fixture(scope="module")
def gateway(served: Served, simulator: Simulated, tmp_path_factory: pytest.TempPathFactory) -> str:
    database = tmp_path_factory.mktemp("gateway") / "journal.db"
    url = served.start(lambda: create_gateway(fast_settings(simulator.url, database)))
    resp = requests.post(
        f"{url}/v1/orders", json=purchase_order(), headers={"Idempotency-Key": "st-1"}, timeout=10
    )
    assert resp.status_code == 202, resp.text
    return url


# -- the runs ----------------------------------------------------------------------------------


def _fuzz(op: Any, base_url: str, headers: dict[str, str], ids: dict[str, str]) -> None:
    names = {p.name for p in op.path_parameters}
    pinned = {name: ids[name] for name in names if name in ids}
    strategy = op.as_strategy(path_parameters=pinned or None)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.parametrize("op", _operations(PC), ids=_id)
def test_the_simulator_answers_within_its_published_schema(op: Any, simulator: Simulated) -> None:
    _fuzz(op, simulator.url, simulator.headers, simulator.ids)


@pytest.mark.parametrize("op", _operations(GW), ids=_id)
def test_the_gateway_answers_within_its_published_schema(op: Any, gateway: str) -> None:
    _fuzz(op, gateway, {}, {})
