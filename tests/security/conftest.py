"""Hostile input, upstream garbage and secrets, against the gateway and the simulator on real
loopback ports (the gateway tier's fixtures: ``gw``, ``make_gateway``, ``sim``, ``sim_http``…).

Helpers here read what a caller or an operator can see: the operations the API lists, the calls
Partner Center received.
"""

from __future__ import annotations

from typing import Any

# The gateway tier's fixtures, whatever they come to depend on (``gw`` and ``make_gateway``
# send the marketplace's API key when keys are on).
from tests.gateway.conftest import *  # noqa: F403
from tests.gateway.conftest import Gateway
from tests.simulator.conftest import PartnerClient


async def operation_ids(gw: Gateway) -> set[str]:
    """Every operation the caller can list, through the API (all pages)."""
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        query = "?limit=200" + (f"&cursor={cursor}" if cursor else "")
        resp = await gw.http.get(f"/v1/operations{query}")
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        ids.update(item["id"] for item in page["items"])
        cursor = page.get("nextCursor")
        if not cursor:
            return ids


async def upstream_calls(sim: PartnerClient) -> list[dict[str, Any]]:
    """The ``/v1`` calls Partner Center (the simulator) received, oldest first."""
    body = await sim.sim("GET", "/requests?limit=1000")  # newest first
    return [r for r in reversed(body["items"]) if r["path"].startswith("/v1/")]


async def writes_upstream(sim: PartnerClient) -> list[dict[str, Any]]:
    return [c for c in await upstream_calls(sim) if c["method"] != "GET"]
