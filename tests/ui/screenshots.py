"""Writes the README's pictures of both pages: ``python -m tests.ui.screenshots [OUT_DIR]``.

Starts the simulator and a gateway (keys on, a journal in a temporary directory) on loopback
ports, gives them a small world through their real APIs — purchases through the gateway, one
waiting for a customer's admin, one failed by a simulator fault (left active), a pending
transfer, the clock moved past one cancel window — then photographs
``docs/screenshots/simulator-dashboard.png`` and ``docs/screenshots/gateway-operations.png``
with headless Chromium. Nothing is drawn by hand: the pictures are what a user would see.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
from aiohttp import web

from gateway import keys
from gateway.app import create_app as create_gateway
from gateway.logging import configure
from simulator import SimulatorSettings
from simulator import create_app as create_simulator
from tests.gateway.conftest import fast_settings, on_keys, purchase_order
from tests.simulator.conftest import PROVIDER, PartnerClient, sign_in
from tests.ui.browser import Browser

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def serve(app: web.Application) -> tuple[str, web.AppRunner]:
    runner = web.AppRunner(app, handler_cancellation=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}", runner


class Marketplace:
    """The gateway's API as a marketplace calls it, with its key."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def order(self, body: dict[str, Any], until: tuple[str, ...]) -> dict[str, Any]:
        headers = {"Idempotency-Key": f"shot-{id(body)}-{datetime.now(UTC).timestamp()}"}
        async with self.http.post("/v1/orders", json=body, headers=headers) as resp:
            assert resp.status == 202, await resp.text()
            op_id = (await resp.json())["id"]
        for _ in range(400):
            async with self.http.get(f"/v1/operations/{op_id}") as resp:
                op: dict[str, Any] = await resp.json()
            if op["status"] in until:
                return op
            await asyncio.sleep(0.05)
        raise RuntimeError(f"operation {op_id} stayed {op['status']}")


def order(prefix: str, company: str, seats: int, **changes: Any) -> dict[str, Any]:
    body = purchase_order(prefix, **changes)
    if "newTenant" in body["customer"]:
        body["customer"]["newTenant"]["companyName"] = company
    body["lines"][0]["quantity"] = seats
    return body


async def pending_transfer(sim: PartnerClient, customer_id: str) -> None:
    """Another provider asks to take the customer over (the pending transfer on the page)."""
    made = await sim.sim("POST", "/partners",
                         {"name": "Adatum Distribution", "kind": "indirect_provider", "country": "IT"}, 201)  # fmt: skip
    reseller = await sim.sim("POST", "/partners",
                             {"name": "Litware Resellers", "kind": "indirect_reseller", "country": "IT"}, 201)  # fmt: skip
    await sim.sim("POST", f"/partners/{reseller['tenantId']}/accept-provider-invitation",
                  {"providerTenantId": made["tenantId"]})  # fmt: skip
    await sim.sim("POST", f"/tenants/{customer_id}/accept-relationship",
                  {"partnerTenantId": made["tenantId"]})  # fmt: skip
    target = await sim.as_partner(made["clientId"], made["clientSecret"], made["tenantId"])
    body = {"sourcePartnerTenantId": PROVIDER["tenant_id"], "sourcePartnerName": "Contoso Distribution",
            "customerEmailId": "admin@contoso.com", "partnerOnRecord": reseller["mpnId"]}  # fmt: skip
    await target.ok("POST", f"/v1/customers/{customer_id}/transfers", body, status=201)


async def main(out: Path) -> None:
    configure("warning")  # the gateway's per-call log lines would bury the two paths printed
    with tempfile.TemporaryDirectory(prefix="pcgw-shots-") as tmp:
        sim_url, sim_runner = await serve(create_simulator(SimulatorSettings()))
        settings = fast_settings(sim_url, Path(tmp) / "journal.db", auth="keys",
                                 max_unavailable_attempts=1, pc_retry_attempts=1,
                                 pc_retry_backoff_seconds=0.01, pc_retry_jitter_seconds=0.0,
                                 # the waiting purchase checks once, not every 0.1 s: the
                                 # journal on the picture then shows the purchases' own calls
                                 invitation_poll_seconds=3600)  # fmt: skip
        key = await on_keys(
            settings.database_url, lambda s: keys.create(s, "marketplace-a", datetime.now(UTC))
        )
        gw_url, gw_runner = await serve(create_gateway(settings))
        sim_http = aiohttp.ClientSession(base_url=sim_url)
        gw_http = aiohttp.ClientSession(base_url=gw_url, headers={"Authorization": f"Bearer {key}"})
        try:
            sim = await sign_in(
                cast(Any, sim_http), PROVIDER["client_id"], PROVIDER["client_secret"],
                PROVIDER["tenant_id"],
            )  # fmt: skip
            market = Marketplace(gw_http)
            done = ("succeeded", "failed")
            first = await market.order(order("contoso", "Contoso Ltd", 5), done)
            await sim.advance("P6DT20H")
            await market.order(order("fabrikam", "Fabrikam Inc", 12), done)
            await market.order(order("northwind", "Northwind Traders", 3), done)
            await pending_transfer(sim, first["result"]["customerId"])
            await sim.sim("POST", "/tenants", {"domain": "tailspin.onmicrosoft.com",
                          "companyName": "Tailspin Toys", "country": "US"}, 201)  # fmt: skip
            await market.order(
                order("tailspin", "", 8, customer={"existingTenant": {"domain": "tailspin.onmicrosoft.com"}}),
                ("action_required", *done),
            )  # fmt: skip
            await sim.sim("POST", "/faults",
                          {"method": "POST", "path": "^/v1/customers$", "status": 503}, 201)  # fmt: skip
            await market.order(order("woodgrove", "Woodgrove Bank", 25), done)

            async with asyncio.timeout(120):
                started = await Browser.launch()
                try:
                    page = await started.new_page(1280, 900)
                    await page.goto(f"{gw_url}/ui")
                    await page.evaluate(f"sessionStorage.setItem('pcgw.apiKey', '{key}')")
                    await page.goto(f"{gw_url}/ui")
                    await page.wait_for(
                        "document.querySelectorAll('article[data-op-id]').length === 5", "ops"
                    )
                    await page.screenshot(out / "gateway-operations.png")

                    await page.goto(f"{sim_url}/_sim/ui?limit=12")
                    await page.wait_for("document.querySelector('tr[data-sub-id]')", "subs")
                    await page.click("button[data-by=P1D]")
                    await page.wait_for("!document.getElementById('happened').hidden", "events")
                    await page.wait_for(
                        "document.getElementById('now').innerText.startsWith('2026-01-13')", "now"
                    )
                    await page.screenshot(out / "simulator-dashboard.png")
                    if page.errors:
                        raise RuntimeError(f"the pages reported errors: {page.errors}")
                finally:
                    await started.close()
        finally:
            await sim_http.close()
            await gw_http.close()
            await gw_runner.cleanup()
            await sim_runner.cleanup()
    for name in ("simulator-dashboard.png", "gateway-operations.png"):
        print(out / name)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
