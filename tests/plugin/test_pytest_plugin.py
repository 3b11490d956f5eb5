"""The pytest plugin users get with the package, run as a user would: inline test files under
pytester, with only the installed entry point to find the fixtures."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

# Imported here, before pytester snapshots sys.modules: an in-process run drops the modules it
# imported afterwards, and PyYAML's C emitter does not survive being imported a second time.
import adapters.recording.cassettes  # noqa: F401

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = -p no:cacheprovider
"""

PURCHASE = """
import pytest

LINE = {"catalogItemId": "CFQ7TTC0LH18:0001:CFQ7TTC0K971", "quantity": 5, "termDuration": "P1Y",
        "billingCycle": "monthly",
        "participants": [{"key": "transaction_reseller", "value": "2000002"}]}
CUSTOMER = {
    "companyProfile": {"domain": "contoso.onmicrosoft.com"},
    "billingProfile": {"email": "admin@example.com", "culture": "en-US", "language": "en",
                       "companyName": "Contoso", "defaultAddress": {
                           "firstName": "Jane", "lastName": "Doe", "addressLine1": "1 Main St",
                           "city": "Springfield", "state": "WA", "postalCode": "98052",
                           "country": "US"}},
}
MCA = {"primaryContact": {"firstName": "Jane", "lastName": "Doe", "email": "jane@contoso.com"},
       "templateId": "117a77b0-9360-443b-8795-c6dedc750cf9",
       "dateAgreed": "2026-01-02T00:00:00Z", "type": "MicrosoftCustomerAgreement"}


async def post(pc, path, body):
    async with pc.post(path, json=body) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def test_a_purchase_then_the_clock_closes_its_cancellation_window(pcgw_pc, pcgw_clock):
    customer = await post(pcgw_pc, "/v1/customers", CUSTOMER)
    await post(pcgw_pc, f"/v1/customers/{customer['id']}/agreements", MCA)
    cart = await post(pcgw_pc, f"/v1/customers/{customer['id']}/carts",
                      {"lineItems": [LINE], "partnerOnRecordAttestationAccepted": True})
    await post(pcgw_pc, f"/v1/customers/{customer['id']}/carts/{cart['id']}/checkout", None)
    events = pcgw_clock.advance("P8D")
    assert "cancellationWindowClosed" in [e["type"] for e in events]
    assert pcgw_clock.now().startswith("2026-01-13")


async def test_each_test_starts_in_a_fresh_world(pcgw_pc, pcgw_clock):
    async with pcgw_pc.get("/v1/customers") as resp:
        assert resp.status == 200
        assert (await resp.json())["totalCount"] == 0
    assert pcgw_clock.now().startswith("2026-01-05")


def test_a_sync_test_drives_the_control_plane(pcgw_world, pcgw_simulator):
    assert pcgw_world.url == pcgw_simulator.url
    fault = pcgw_world.fault(method="GET", path="^/v1/customers$", status=503, times=1)
    assert [f["id"] for f in pcgw_world.call("GET", "/faults")["items"]] == [fault]
"""

CASSETTE = """
import pytest


@pytest.mark.pcgw_cassette("customers")
async def test_customers_from_a_cassette(pcgw_pc, pcgw_cassette):
    async with pcgw_pc.get("/v1/customers") as resp:
        assert resp.status == 200
        assert (await resp.json())["totalCount"] == 0
    replayed = pcgw_pc.headers["Authorization"] == "Bearer <redacted>"
    assert replayed is pcgw_cassette.replaying
"""


def test_the_plugin_is_installed_as_a_pytest11_entry_point() -> None:
    [found] = [e for e in entry_points(group="pytest11") if e.name == "pcgw"]
    assert found.value == "adapters.recording.pytest_plugin"


def test_the_fixtures_give_a_signed_in_client_a_fresh_world_and_a_clock(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_purchase=PURCHASE)
    # the fresh-world test runs after the purchase and must not see its customer
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)


def test_a_marked_test_records_its_cassette_then_replays_it(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_cassette=CASSETTE)
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)
    written = pytester.path / "cassettes" / "test_cassette" / "customers.yaml"
    text = written.read_text()
    assert "/v1/customers" in text
    assert "provider-secret" not in text
    assert "access_token: <redacted>" in text or '"access_token": "<redacted>"' in text
    assert "/_sim/" not in text  # the per-test reset is control plane, never recorded
    pytester.runpytest().assert_outcomes(passed=1)  # replay: the default mode


def test_replay_fails_a_marked_test_whose_request_is_not_in_its_cassette(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_cassette=CASSETTE)
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)
    pytester.makepyfile(test_cassette=CASSETTE.replace('"/v1/customers"', '"/v1/customers?size=1"'))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*1 request(s) not in cassette*", "*GET /v1/customers?size=1*"])


def test_record_mode_is_one_of_the_documented_choices(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    result = pytester.runpytest("--record-mode=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--record-mode*invalid choice*"])


REDACTING_CONFTEST = """
import pytest
from adapters.recording.cassettes import Recording


@pytest.fixture
def pcgw_recording(request):
    return Recording(mode=request.config.getoption("--record-mode"), redact=("email",))
"""

CUSTOMER_CASSETTE = (
    PURCHASE.replace("async def test_a_purchase", "async def _unused")
    .replace("async def test_each_test", "async def _unused_too")
    .replace("def test_a_sync_test", "def _unused_sync")
    + """

@pytest.mark.pcgw_cassette
async def test_a_customer(pcgw_pc):
    created = await post(pcgw_pc, "/v1/customers", CUSTOMER)
    assert created["userCredentials"]["password"]
"""
)


def test_keys_the_user_names_are_redacted_along_with_the_secrets(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makeconftest(REDACTING_CONFTEST)
    pytester.makepyfile(test_customers=CUSTOMER_CASSETTE)
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)
    text = (pytester.path / "cassettes" / "test_customers" / "test_a_customer.yaml").read_text()
    assert "userCredentials" in text
    assert "admin@example.com" not in text
    assert '"password": "<redacted>"' in text
    pytester.runpytest().assert_outcomes(passed=1)
