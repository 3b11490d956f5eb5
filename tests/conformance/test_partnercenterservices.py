"""A third-party Partner Center client, unmodified, against the simulator.

``partnercenterservices`` 0.1.2 is AutoRest-generated from Microsoft's own swagger (msrest +
requests, synchronous). If its deserializer accepts what the simulator sends, a user's existing
SDK code can be pointed at the simulator by changing only ``base_url``; if it chokes, the
simulator's wire has drifted from Microsoft's.

The simulator runs as its own process (``python -m simulator``) on a free port, because the
client is synchronous and must not share an event loop with the server. State is set up over
plain HTTP, the way a user's CI would; the reads, and a whole purchase (customer, cart, checkout,
subscription read), go through the package.

What the package cannot express (its swagger predates New Commerce): it has no generated
operation for ``POST /customers``, ``POST /customers/{id}/carts`` or ``POST
/customers/{id}/agreements``, and no cart or agreement model. Those calls go through the package's
own msrest pipeline (``client._client``: its auth, its serializer, its deserializer) — what a user
of the package would do — with the customer built from the package's models and the cart as a
plain dict. Checkout and the subscription read are the generated operations, unmodified.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from microsoft.store.partnercenterservices import MicrosoftPartnerStoreApis, models
from msrest.authentication import BasicTokenAuthentication
from msrest.exceptions import DeserializationError

from tests.simulator.conftest import BASIC, MCA_BODY, PROVIDER, customer_body, line

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0
CALL_TIMEOUT = 5.0
API_VERSION = "1"  # the package's path template is /v{version}/...


class Simulator:
    """A running ``python -m simulator`` and a signed-in plain-HTTP caller for setting up state."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.token = ""

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: dict[str, str] | None = None,
        status: int = 200,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=CALL_TIMEOUT) as resp:
                got, text = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            got, text = exc.code, exc.read()
            exc.close()
        assert got == status, f"{method} {path} -> {got}: {text!r}"
        return json.loads(text) if text else None

    def sign_in(self) -> None:
        answer = self.call(
            "POST",
            f"/{PROVIDER['tenant_id']}/oauth2/token",
            form={
                "grant_type": "client_credentials",
                "client_id": PROVIDER["client_id"],
                "client_secret": PROVIDER["client_secret"],
                "resource": "https://api.partnercenter.microsoft.com",
            },
        )
        self.token = answer["access_token"]

    def customer_with_subscription(self, domain: str, quantity: int) -> tuple[str, str]:
        """A customer with the MCA accepted and one purchased subscription: (customer, sub)."""
        customer = self.call("POST", "/v1/customers", customer_body(domain), status=201)
        cid = customer["id"]
        self.call("POST", f"/v1/customers/{cid}/agreements", MCA_BODY, status=201)
        cart = self.call(
            "POST",
            f"/v1/customers/{cid}/carts",
            {
                "lineItems": [line(quantity=quantity)],
                "partnerOnRecordAttestationAccepted": True,
            },
            status=201,
        )
        result = self.call("POST", f"/v1/customers/{cid}/carts/{cart['id']}/checkout", status=201)
        return cid, result["orders"][0]["lineItems"][0]["subscriptionId"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(sim: Simulator, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"simulator exited with {proc.returncode}: {log.read_text()}")
        try:
            sim.call("GET", "/_sim/clock")
        except OSError:
            time.sleep(0.05)
        else:
            return
    pytest.fail(f"simulator did not answer within {START_TIMEOUT}s: {log.read_text()}")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "simulator.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "simulator", "--port", str(port), "--no-access-log"],
                cwd=REPO,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
            try:
                simulator = Simulator(f"http://127.0.0.1:{port}")
                _wait_until_up(simulator, proc, log)
                simulator.sign_in()
                yield simulator
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)


@pytest.fixture
def client(sim: Simulator) -> Iterator[MicrosoftPartnerStoreApis]:
    """The package's client, configured the way its README says, with only base_url changed."""
    api = MicrosoftPartnerStoreApis(
        BasicTokenAuthentication({"access_token": sim.token}), base_url=sim.base_url
    )
    yield api
    # The generated class has no close(); its msrest ServiceClient holds a requests.Session
    # whose pooled socket would otherwise surface as a ResourceWarning (an error here).
    api._client.close()


def test_package_lists_the_partners_customers_with_their_domains(
    sim: Simulator, client: MicrosoftPartnerStoreApis
) -> None:
    first, _ = sim.customer_with_subscription("conformance-a.onmicrosoft.com", 3)
    second, _ = sim.customer_with_subscription("conformance-b.onmicrosoft.com", 4)

    raw = client.getvversioncustomersfilterfilter.value(API_VERSION, raw=True)

    assert raw.response.status_code == 200
    page = raw.output
    by_id = {c.id: c for c in page.items}
    assert page.total_count == len(page.items)
    assert by_id[first].company_profile.domain == "conformance-a.onmicrosoft.com"
    assert by_id[second].company_profile.domain == "conformance-b.onmicrosoft.com"
    assert by_id[first].billing_profile.default_address.country == "US"
    assert by_id[first].relationship_to_partner == "reseller"
    assert page.attributes.object_type == "Collection"


def test_package_reads_a_purchased_subscription_with_its_terms(
    sim: Simulator, client: MicrosoftPartnerStoreApis
) -> None:
    customer_id, sub_id = sim.customer_with_subscription("conformance-c.onmicrosoft.com", 7)

    raw = client.getvversioncustomerscustomer.id6(customer_id, sub_id, API_VERSION, raw=True)

    assert raw.response.status_code == 200
    sub = raw.output
    assert sub.id == sub_id
    assert sub.quantity == 7
    assert sub.offer_id == BASIC
    assert sub.status == "active"
    assert sub.auto_renew_enabled is True
    assert sub.billing_cycle == "monthly"
    assert sub.partner_id == "2000002"
    assert sub.creation_date == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert sub.commitment_end_date == datetime(2027, 1, 4, 0, 0, tzinfo=UTC)
    assert sub.links.itself.uri == f"/customers/{customer_id}/subscriptions/{sub_id}"
    # Fields newer than the swagger survive as additional properties, not as errors.
    assert sub.additional_properties["termDuration"] == "P1Y"


def test_package_sees_a_seat_change_made_over_the_api(
    sim: Simulator, client: MicrosoftPartnerStoreApis
) -> None:
    customer_id, sub_id = sim.customer_with_subscription("conformance-d.onmicrosoft.com", 5)
    path = f"/v1/customers/{customer_id}/subscriptions/{sub_id}"
    sim.call("PATCH", path, {"quantity": 9, "status": "active", "autoRenewEnabled": True})

    sub = client.getvversioncustomerscustomer.id6(customer_id, sub_id, API_VERSION)

    assert (sub.quantity, sub.status) == (9, "active")


def test_package_lists_a_customers_subscriptions_filtered_by_order(
    sim: Simulator, client: MicrosoftPartnerStoreApis
) -> None:
    customer_id, sub_id = sim.customer_with_subscription("conformance-e.onmicrosoft.com", 2)
    order_id = sim.call("GET", f"/v1/customers/{customer_id}/subscriptions/{sub_id}")["orderId"]

    page = client.getvversioncustomerscustomer.value9(customer_id, API_VERSION, order_id=order_id)
    other = client.getvversioncustomerscustomer.value9(
        customer_id, API_VERSION, order_id="000000000000"
    )

    assert [(s.id, s.order_id, s.quantity) for s in page.items] == [(sub_id, order_id, 2)]
    assert (other.total_count, other.items) == (0, [])


# -- a purchase driven through the package -------------------------------------------------------


def _through_package(api: MicrosoftPartnerStoreApis, path: str, body: Any) -> Any:
    """POST through the package's own pipeline, for an operation its swagger lacks."""
    request = api._client.post(api._client.format_url(path), {})
    headers = {"Content-Type": "application/json; charset=utf-8", "MS-RequestId": str(uuid.uuid4())}
    return api._client.send(request, headers, body, stream=False)


def _customer_model(domain: str) -> Any:
    address = models.MicrosoftPartnerSdkContractsV1Address(
        country="US", city="Springfield", state="WA", address_line1="1 Main St",
        postal_code="98052", first_name="Jane", last_name="Doe",
    )  # fmt: skip
    return models.MicrosoftPartnerSdkContractsV1Customer(
        company_profile=models.MicrosoftPartnerSdkContractsV1CustomerCompanyProfile(domain=domain),
        billing_profile=models.MicrosoftPartnerSdkContractsV1CustomerBillingProfile(
            email="admin@example.com", culture="en-US", language="en",
            company_name="Contoso Ltd", default_address=address,
        ),
    )  # fmt: skip


def _create_customer(api: MicrosoftPartnerStoreApis, domain: str) -> tuple[Any, dict[str, Any]]:
    """The created customer as the package's model, and its ``userCredentials`` as sent.

    The package types ``userCredentials.password`` as ``SystemSecuritySecureString`` (an object
    with ``length``), but Partner Center sends the generated password as a plain string, so the
    package's deserializer raises on Microsoft's answer and the simulator's alike. The
    credentials are taken off before the rest goes through the package's deserializer.
    """
    body = api._serialize.body(_customer_model(domain), "MicrosoftPartnerSdkContractsV1Customer")
    response = _through_package(api, "/v1/customers", body)
    assert response.status_code == 201, response.text
    answer = response.json()
    credentials = answer.pop("userCredentials")
    return api._deserialize("MicrosoftPartnerSdkContractsV1Customer", answer), credentials


def _create_cart(api: MicrosoftPartnerStoreApis, customer_id: str, quantity: int) -> Any:
    body = {"lineItems": [line(quantity=quantity)], "partnerOnRecordAttestationAccepted": True}
    response = _through_package(api, f"/v1/customers/{customer_id}/carts", body)
    assert response.status_code == 201, response.text
    return response.json()


def test_package_creates_a_customer_from_its_own_models(
    sim: Simulator, client: MicrosoftPartnerStoreApis
) -> None:
    customer, credentials = _create_customer(client, "conformance-f.onmicrosoft.com")

    assert customer.id
    assert customer.company_profile.domain == "conformance-f.onmicrosoft.com"
    assert customer.company_profile.tenant_id == customer.id
    assert customer.billing_profile.default_address.postal_code == "98052"
    assert credentials["userName"] == "admin"
    assert isinstance(credentials["password"], str)
    assert credentials["password"]
    # The customer exists for the simulator, not only in the package's answer.
    assert sim.call("GET", f"/v1/customers/{customer.id}")["companyProfile"]["domain"] == (
        "conformance-f.onmicrosoft.com"
    )


def test_package_buys_a_subscription_cart_checkout_and_reads_it_back(
    sim: Simulator, client: MicrosoftPartnerStoreApis
) -> None:
    customer, _ = _create_customer(client, "conformance-g.onmicrosoft.com")
    sim.call("POST", f"/v1/customers/{customer.id}/agreements", MCA_BODY, status=201)
    cart = _create_cart(client, customer.id, 6)

    raw = client.postvversioncustomerscustomer.idcheckout(
        customer.id, cart["id"], API_VERSION, ms_request_id=str(uuid.uuid4()), raw=True
    )

    assert raw.response.status_code == 201
    result = raw.output
    assert result.order_errors == []
    [order] = result.orders
    assert order.reference_customer_id == customer.id
    assert order.billing_cycle == "monthly"
    [item] = order.line_items
    assert (item.offer_id, item.quantity) == (BASIC, 6)
    assert item.partner_id_on_record == "2000002"

    sub = client.getvversioncustomerscustomer.id6(customer.id, item.subscription_id, API_VERSION)

    assert (sub.id, sub.order_id, sub.quantity, sub.status) == (
        item.subscription_id,
        order.id,
        6,
        "active",
    )
    assert sub.offer_id == BASIC


def test_package_reports_a_refused_checkout_as_partner_centers_error(
    sim: Simulator, client: MicrosoftPartnerStoreApis
) -> None:
    customer, _ = _create_customer(client, "conformance-h.onmicrosoft.com")
    cart = _create_cart(client, customer.id, 2)  # no Microsoft Customer Agreement accepted

    raw = client.postvversioncustomerscustomer.idcheckout(
        customer.id, cart["id"], API_VERSION, raw=True
    )

    assert raw.response.status_code == 403
    assert raw.output is None  # the generated code deserializes only 200/201
    error = raw.response.json()
    assert set(error) == {"code", "description", "data", "source"}
    assert error["code"] == 13605
    assert sim.call("GET", f"/v1/customers/{customer.id}/subscriptions")["totalCount"] == 0


def test_package_cannot_read_the_generated_password_it_models_as_a_secure_string(
    client: MicrosoftPartnerStoreApis,
) -> None:
    """Pins the package limitation worked around above: if a release fixes the model, the
    workaround can go."""
    body = client._serialize.body(
        _customer_model("conformance-i.onmicrosoft.com"), "MicrosoftPartnerSdkContractsV1Customer"
    )
    response = _through_package(client, "/v1/customers", body)
    assert response.status_code == 201

    with pytest.raises(DeserializationError, match="'str' object has no attribute 'get'"):
        client._deserialize("MicrosoftPartnerSdkContractsV1Customer", response)
