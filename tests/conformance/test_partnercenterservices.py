"""A third-party Partner Center client, unmodified, against the simulator.

``partnercenterservices`` 0.1.2 is AutoRest-generated from Microsoft's own swagger (msrest +
requests, synchronous). If its deserializer accepts what the simulator sends, a user's existing
SDK code can be pointed at the simulator by changing only ``base_url``; if it chokes, the
simulator's wire has drifted from Microsoft's.

The simulator runs as its own process (``python -m simulator``) on a free port, because the
client is synchronous and must not share an event loop with the server. State is set up over
plain HTTP, the way a user's CI would, and only the reads go through the package.
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
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from microsoft.store.partnercenterservices import MicrosoftPartnerStoreApis
from msrest.authentication import BasicTokenAuthentication

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
