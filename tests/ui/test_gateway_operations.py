"""The gateway's operations view at ``/ui``, in headless Chromium: an operator with a key finds
the stuck operations and retries the one Partner Center's outage failed."""

from __future__ import annotations

import json
from typing import Any

from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.simulator.conftest import PartnerClient
from tests.ui.browser import Page

#: A purchase fails at once when Partner Center answers 503 (one try, one attempt), as
#: ``unavailable``: the kind of failure a retry is for.
FAIL_FAST: dict[str, Any] = {
    "max_unavailable_attempts": 1,
    "pc_retry_attempts": 1,
    "pc_retry_backoff_seconds": 0.01,
    "pc_retry_jitter_seconds": 0.0,
}


def card(op_id: str) -> str:
    return f"document.querySelector('article[data-op-id={json.dumps(op_id)}]')"


def shown_ids() -> str:
    return "[...document.querySelectorAll('article[data-op-id]')].map(a => a.dataset.opId)"


async def failed_purchase(gw: Gateway, sim: PartnerClient) -> dict[str, Any]:
    await sim.sim("POST", "/faults", {"method": "POST", "path": "^/v1/customers$", "status": 503},
                  status=201)  # fmt: skip
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order("outage")))["id"])
    assert (op["status"], op["error"]["reason"]) == ("failed", "unavailable"), op
    await sim.sim("DELETE", "/faults", status=204)
    return op


async def waiting_purchase(gw: Gateway, sim: PartnerClient) -> dict[str, Any]:
    """An existing tenant's order: it waits for the customer's admin to accept the provider."""
    body = {"domain": "waiting.onmicrosoft.com", "companyName": "Waiting Ltd", "country": "US"}
    await sim.sim("POST", "/tenants", body, status=201)
    order = purchase_order(customer={"existingTenant": {"domain": "waiting.onmicrosoft.com"}})
    accepted = await gw.submit("/v1/orders", order)
    op = await gw.wait(accepted["id"], until=("action_required", "succeeded", "failed"))
    assert op["status"] == "action_required", op
    return op


async def test_an_operator_with_a_key_filters_to_the_failed_purchase_and_retries_it(
    page: Page, make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(**FAIL_FAST)
    failed = await failed_purchase(gw, sim)
    waiting = await waiting_purchase(gw, sim)
    await page.goto(str(gw.http.make_url("/ui")))

    # No key yet: the page says it needs one and shows nothing.
    why = await page.wait_for(
        "!document.getElementById('needs-key').hidden && document.getElementById('needs-key').innerText",
        "that it needs a key",
    )
    assert "This gateway needs an API key" in why
    assert await page.evaluate(shown_ids()) == []
    # A wrong key is refused as such.
    await page.type_into("#key", "pcgw_not-a-real-key")
    await page.click("#key-form button[type=submit]")
    await page.wait_for(
        "document.getElementById('needs-key-why').innerText.includes('not valid')", "the refusal"
    )

    assert gw.key is not None
    await page.type_into("#key", gw.key)
    await page.click("#key-form button[type=submit]")
    await page.wait_for(f"{shown_ids()}.length === 2", "both operations")
    assert await page.evaluate("document.getElementById('needs-key').hidden")
    assert await page.evaluate("sessionStorage.getItem('pcgw.apiKey')") == gw.key

    await page.click("#filters button[data-status=action_required]")
    await page.wait_for(f"{shown_ids()}.join() === {json.dumps(waiting['id'])}", "the waiting one")
    action = await page.evaluate(f"{card(waiting['id'])}.querySelector('.action').innerText")
    assert "global admin must accept" in action
    link = await page.evaluate(f"{card(waiting['id'])}.querySelector('.action a').href")
    assert link == waiting["action"]["url"]

    await page.click("#filters button[data-status=failed]")
    await page.wait_for(f"{shown_ids()}.join() === {json.dumps(failed['id'])}", "the failed one")
    shown = await page.evaluate(f"{card(failed['id'])}.innerText")
    assert "unavailable" in shown
    assert "HTTP 503" in shown
    step = await page.evaluate(
        f"{card(failed['id'])}.querySelector('tr[data-step=create_customer]').innerText"
    )
    assert "failed" in step
    assert (
        await page.evaluate(f"{card(failed['id'])}.querySelector('button.retry').disabled") is False
    )

    await page.click(f"button[data-retry={json.dumps(failed['id'])}]")
    message = await page.wait_for(
        "!document.getElementById('message').hidden && document.getElementById('message').innerText",
        "the retry's answer",
    )
    assert failed["id"] in message
    assert "again" in message
    # It left the failed list, and the API shows it run again, to the end this time.
    await page.wait_for(f"{shown_ids()}.length === 0", "the failed list emptied")
    assert "No failed operations." in await page.evaluate(
        "document.getElementById('list').innerText"
    )
    assert (await gw.operation(failed["id"]))["status"] != "failed"
    done = await gw.wait(failed["id"])
    assert done["status"] == "succeeded", done
    assert page.errors == []


async def test_a_failure_a_retry_would_not_fix_offers_no_live_retry_button(
    page: Page, make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    """A purchase Partner Center refused (not an outage): Retry is shown but disabled, with the
    reason in its tooltip; the journal would refuse it too."""
    gw = await make_gateway()
    await sim.sim("POST", "/faults", {"method": "POST", "path": "^/v1/customers$", "status": 400,
                                      "code": 600050, "description": "Bad address"}, status=201)  # fmt: skip
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order("refused")))["id"])
    assert op["status"] == "failed", op
    assert op["error"].get("reason") != "unavailable"
    await page.goto(str(gw.http.make_url("/ui")))
    await page.evaluate(f"sessionStorage.setItem('pcgw.apiKey', {json.dumps(gw.key)})")
    await page.goto(str(gw.http.make_url("/ui")))
    await page.click("#filters button[data-status=failed]")
    await page.wait_for(card(op["id"]), "the refused purchase")
    button = f"{card(op['id'])}.querySelector('button.retry')"
    assert await page.evaluate(f"{button}.disabled") is True
    assert "would come back" in await page.evaluate(f"{button}.title")
    assert "Bad address" in await page.evaluate(f"{card(op['id'])}.innerText")
    resp = await gw.http.post(f"/v1/operations/{op['id']}/retry")
    assert resp.status == 409


async def test_with_auth_off_the_page_needs_no_key_and_shows_a_purchase_with_its_steps(
    page: Page, make_gateway: MakeGateway
) -> None:
    gw = await make_gateway(auth="off")
    order = purchase_order("plain")
    order["customer"]["newTenant"]["companyName"] = "<b>Bold</b> & Co"
    op = await gw.wait((await gw.submit("/v1/orders", order))["id"])
    assert op["status"] == "succeeded", op
    await page.goto(str(gw.http.make_url("/ui")))
    await page.wait_for(card(op["id"]), "the purchase")
    assert await page.evaluate("document.getElementById('needs-key').hidden")
    steps = await page.evaluate(
        f"[...{card(op['id'])}.querySelectorAll('tr[data-step]')].map(r => r.dataset.step)"
    )
    assert steps == [s["name"] for s in op["steps"]]
    assert await page.evaluate(f"{card(op['id'])}.querySelector('button.retry')") is None
    # the request is shown as the text it is
    assert "<b>Bold</b> & Co" in await page.evaluate(
        f"{card(op['id'])}.querySelector('details:last-of-type pre').textContent"
    )
    assert await page.evaluate("document.querySelectorAll('#list b').length") == 0
    # the kind filter lists the gateway's workflows, and filters
    kinds = await page.evaluate("[...document.querySelectorAll('#kind option')].map(o => o.value)")
    assert {"", "purchase", "change_seats"} <= set(kinds)
    await page.evaluate(
        "(() => { const s = document.getElementById('kind'); s.value = 'change_seats';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    await page.wait_for(f"{shown_ids()}.length === 0", "no seat changes")


async def test_the_page_itself_is_public_and_every_data_call_needs_the_key(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway()
    for path in ("/ui", "/ui/operations.js", "/ui/operations.css", "/ui/favicon.svg"):
        resp = await gw.http.get(path, headers={"Authorization": ""})
        assert resp.status == 200, path
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    page = await (await gw.http.get("/ui")).text()
    assert '<option value="purchase">purchase</option>' in page
    anonymous = await gw.http.get("/v1/operations", headers={"Authorization": ""})
    assert anonymous.status == 401
