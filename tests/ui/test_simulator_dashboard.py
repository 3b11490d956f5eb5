"""The simulator dashboard at ``/_sim/ui``, in headless Chromium: what a developer sees after a
purchase, and what the clock buttons do to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from simulator import SimulatorSettings, create_app
from tests.simulator.conftest import PartnerClient
from tests.ui.browser import Page


def row(sub_id: str) -> str:
    return f"document.querySelector('tr[data-sub-id={json.dumps(sub_id)}]')"


def cell(sub_id: str, column: str) -> str:
    return f"{row(sub_id)}?.querySelector('[data-col={column}]')"


async def test_a_purchase_shows_with_its_cancel_window_counting_down_until_the_clock_closes_it(
    page: Page, sim: PartnerClient, sim_url: str
) -> None:
    customer_id, sub = await sim.customer_with_subscription("dashboard.onmicrosoft.com")
    await page.goto(f"{sim_url}/_sim/ui")

    await page.wait_for(row(sub["id"]), "the purchased subscription")
    text = await page.evaluate(f"{row(sub['id'])}.innerText")
    assert "dashboard.onmicrosoft.com" in text
    assert sub["friendlyName"] in text
    assert await page.evaluate(f"{cell(sub['id'], 'seats')}.innerText") == "5"
    assert await page.evaluate(f"{cell(sub['id'], 'status')}.innerText") == "active"
    assert await page.evaluate(f"{cell(sub['id'], 'cancel')}.dataset.state") == "open"
    assert "closes in 7 d" in await page.evaluate(f"{cell(sub['id'], 'cancel')}.innerText")
    assert "5 seats" in await page.evaluate(f"{cell(sub['id'], 'reduction')}.innerText")
    assert await page.evaluate(f"{cell(sub['id'], 'renewal')}.dataset.state") == "renews"
    assert await page.evaluate("document.getElementById('now').innerText") == "2026-01-05 09:00Z"

    # One simulated hour later, from the page: the window has an hour less.
    await page.click("button[data-by=PT1H]")
    await page.wait_for(
        f"{cell(sub['id'], 'cancel')}?.innerText.includes('closes in 6 d 23 h')",
        "the cancel window an hour shorter",
    )
    assert await page.evaluate("document.getElementById('now').innerText") == "2026-01-05 10:00Z"

    await page.click("button[data-by=P7D]")
    await page.wait_for(
        f"{cell(sub['id'], 'cancel')}?.dataset.state === 'closed'", "the cancel window closed"
    )
    assert await page.evaluate(f"{cell(sub['id'], 'reduction')}.dataset.state") == "closed"
    happened = await page.evaluate("document.getElementById('events').innerText")
    assert "cancellationWindowClosed" in happened
    assert await page.evaluate("document.getElementById('now').innerText") == "2026-01-12 10:00Z"

    # The simulator agrees: the clock moved, the window is past, a cancel has no refund.
    state = await sim.sim("GET", "/state")
    assert state["now"] == "2026-01-12T10:00:00Z"
    [held] = [s for s in state["subscriptions"] if s["id"] == sub["id"]]
    assert held["cancellationUntil"] < state["now"]
    seen = await sim.ok("GET", f"/v1/customers/{customer_id}/subscriptions/{sub['id']}")
    assert seen["refundOptions"] == []
    # the page's own calls (its polling, its icon) never land in Partner Center's journal
    journal = (await sim.sim("GET", "/requests"))["items"]
    assert [r["path"] for r in journal if not r["path"].startswith("/v1/")] == [
        f"/{sim.tenant_id}/oauth2/token"
    ]
    assert page.errors == []


async def test_a_custom_advance_and_a_refused_one_show_on_the_page(
    page: Page, sim: PartnerClient, sim_url: str
) -> None:
    await page.goto(f"{sim_url}/_sim/ui")
    await page.wait_for("document.getElementById('now').getAttribute('datetime')", "the clock")
    await page.type_into("#custom-by", "P2DT3H")
    await page.click("#custom button[type=submit]")
    await page.wait_for(
        "document.getElementById('now').innerText === '2026-01-07 12:00Z'", "the clock moved"
    )
    assert (await sim.sim("GET", "/clock"))["now"] == "2026-01-07T12:00:00Z"

    await page.type_into("#custom-by", "P1M")  # months have no fixed length: refused
    await page.click("#custom button[type=submit]")
    message = await page.wait_for(
        "!document.getElementById('message').hidden && document.getElementById('message').innerText",
        "the refusal",
    )
    assert "P1M" in message or "month" in message.lower()
    assert (await sim.sim("GET", "/clock"))["now"] == "2026-01-07T12:00:00Z"


async def test_what_a_record_holds_is_shown_as_text_never_run_as_markup(
    page: Page, sim: PartnerClient, sim_url: str
) -> None:
    name = "<img src=x onerror=\"document.title='owned'\">Contoso"
    body = {"domain": "markup.onmicrosoft.com", "companyName": name, "country": "US"}
    await sim.sim("POST", "/tenants", body, status=201)
    await sim.sim("POST", "/faults", {"path": "^/v1/<b>$", "status": 503}, status=201)
    await page.goto(f"{sim_url}/_sim/ui")
    await page.wait_for("document.getElementById('customers').innerText.includes('Contoso')", "it")
    assert name in await page.evaluate("document.getElementById('customers').innerText")
    assert "^/v1/<b>$" in await page.evaluate("document.getElementById('faults').innerText")
    assert await page.evaluate("document.querySelectorAll('main img, main b').length") == 0
    assert await page.evaluate("document.title") == "pcgw simulator"


# -- the control key and the switch ---------------------------------------------------------------


@pytest.fixture
async def keyed() -> AsyncIterator[TestClient[Any, Any]]:
    client: TestClient[Any, Any] = TestClient(
        TestServer(create_app(SimulatorSettings(control_key="s3cret-key")))
    )
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_with_a_control_key_the_page_asks_for_it_and_then_shows_the_world(
    page: Page, keyed: TestClient[Any, Any]
) -> None:
    url = str(keyed.make_url("/_sim/ui"))
    await page.goto(url)
    message = await page.wait_for(
        "!document.getElementById('message').hidden && document.getElementById('message').innerText",
        "that it needs the key",
    )
    assert "needs its key" in message
    assert await page.evaluate("document.getElementById('partners').children.length") == 0

    await page.type_into("#key", "s3cret-key")
    await page.click("#key-form button[type=submit]")
    await page.wait_for(
        "document.getElementById('partners').innerText.includes('Contoso Distribution')",
        "the partners",
    )
    assert await page.evaluate("document.getElementById('message').hidden")

    # ?key= works too, and does not stay in the address bar
    fresh = await page.evaluate("sessionStorage.clear() || true")
    assert fresh
    await page.goto(f"{url}?key=s3cret-key")
    await page.wait_for(
        "document.getElementById('partners').innerText.includes('Fabrikam Resellers')",
        "the partners",
    )
    assert "key=" not in await page.evaluate("location.href")


async def test_the_shell_is_public_but_its_data_needs_the_key(keyed: TestClient[Any, Any]) -> None:
    for path in ("/_sim/ui", "/_sim/ui/dashboard.js", "/_sim/ui/dashboard.css"):
        resp = await keyed.get(path)
        assert resp.status == 200, path
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    refused = await keyed.get("/_sim/ui/data")
    assert refused.status == 401
    assert "X-Sim-Key" in (await refused.json())["description"]
    # a shell path is public for reading only
    assert (await keyed.post("/_sim/ui", json={})).status == 401
    served = await keyed.get("/_sim/ui/data", headers={"X-Sim-Key": "s3cret-key"})
    assert served.status == 200
    assert {p["name"] for p in (await served.json())["partners"]} >= {"Contoso Distribution"}
    assert all("clientSecret" not in p for p in (await served.json())["partners"])


async def test_with_the_control_plane_off_the_dashboard_is_not_there() -> None:
    client: TestClient[Any, Any] = TestClient(
        TestServer(create_app(SimulatorSettings(control=False)))
    )
    await client.start_server()
    try:
        for path in ("/_sim/ui", "/_sim/ui/dashboard.js", "/_sim/ui/data"):
            resp = await client.get(path)
            assert resp.status == 404, path
            assert (await resp.json())["code"] == 1000
    finally:
        await client.close()


async def test_the_data_limit_is_checked_and_bounds_every_list(sim: PartnerClient) -> None:
    for bad in ("0", "1001", "ten", "-1"):
        resp = await sim.http.get(f"/_sim/ui/data?limit={bad}")
        assert resp.status == 400, bad
        assert "limit must be an integer from 1 to 1000" in (await resp.json())["description"]
    for n in range(3):
        await sim.new_customer(f"limit{n}.onmicrosoft.com")
    data = await (await sim.http.get("/_sim/ui/data?limit=2")).json()
    assert [c["domain"] for c in data["customers"]] == [
        "limit2.onmicrosoft.com",
        "limit1.onmicrosoft.com",
    ]
    assert data["totals"]["customers"] == 3
