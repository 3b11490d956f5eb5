"""Secrets never leak: a full run — a new-tenant purchase whose admin password is delivered
once, a seat change, a sign-in refused for a wrong client secret, a northbound call with a wrong
API key, a failed operation — with the gateway logging at debug level and its Partner Center
traffic recorded to a cassette; then everything a person could see is searched for every secret
of the run: the client secrets, every bearer token the simulator issued, the API key, the
generated password. None may appear anywhere (the password's one delivery excepted)."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient

from adapters.recording.cassettes import Recording, cassette
from gateway import logging as gateway_logging
from simulator.context import SIMULATOR
from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.simulator.conftest import PROVIDER, PartnerClient

WRONG_SECRET = f"wrong-secret-{uuid.uuid4()}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """The gateway's structlog lines at debug level, and (through ``caplog``) every stdlib
    record — aiohttp's, asyncio's — at debug too."""
    caplog.set_level(logging.DEBUG)
    buffer = io.StringIO()
    gateway_logging.configure("debug", cache=False, stream=buffer)
    try:
        yield buffer
    finally:
        structlog.reset_defaults()


class Seen:
    """Everything the run showed to someone: answers' bodies by what asked for them."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    async def keep(self, label: str, resp: Any) -> dict[str, Any]:
        text = await resp.text()
        self.texts[f"{label} ({resp.status})"] = text
        return dict(json.loads(text)) if text else {}


async def operations_listing(gw: Gateway, seen: Seen) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        query = "?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = await seen.keep(
            f"GET /v1/operations{query}", await gw.http.get(f"/v1/operations{query}")
        )
        items += page["items"]
        cursor = page.get("nextCursor") or ""
        if not cursor:
            return items


async def test_no_secret_of_a_full_run_appears_in_logs_listings_error_bodies_or_cassettes(
    debug_logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    make_gateway: MakeGateway,
    sim: PartnerClient,
    sim_http: TestClient[Any, Any],
    sim_url: str,
    tmp_path: Path,
) -> None:
    seen = Seen()
    tape_path = tmp_path / "run.yaml"
    with cassette(tape_path, Recording(mode="once", upstreams=(sim_url,))) as tape:
        gw = await make_gateway()
        # A new tenant: the admin password goes out once, with the finished operation.
        purchase = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
        assert purchase["status"] == "succeeded", purchase
        password = purchase["result"]["adminCredentials"]["adminPassword"]
        customer = purchase["result"]["customerId"]
        [subscription] = purchase["result"]["subscriptionIds"]
        after = await seen.keep(
            "GET the purchase again", await gw.http.get(f"/v1/operations/{purchase['id']}")
        )
        assert "adminCredentials" not in after["result"]
        # A seat change, and one Partner Center refuses (more seats than the offer allows).
        base = f"/v1/customers/{customer}/subscriptions/{subscription}"
        seats = await gw.wait((await gw.submit(f"{base}/seats", {"quantity": 6}))["id"])
        assert seats["status"] == "succeeded", seats
        refused = await gw.wait((await gw.submit(f"{base}/seats", {"quantity": 100_000}))["id"])
        assert refused["status"] == "failed", refused
        # Partner Center sign-in refused: a gateway on the same journal with a wrong secret. An
        # order reads the catalog first (503 to the caller); a seat change fails as an operation.
        wrong = await make_gateway(pc_client_secret=WRONG_SECRET)
        catalog = await seen.keep(
            "order, sign-in refused", await wrong.post("/v1/orders", purchase_order("fabrikam"))
        )
        assert "401" in catalog["message"]
        unsigned = await wrong.wait((await wrong.submit(f"{base}/seats", {"quantity": 7}))["id"])
        assert unsigned["status"] == "failed", unsigned
        assert unsigned["error"]["partnerCenterStatus"] == 401
        # Northbound refusals: a wrong API key, bad input, an unknown operation, a reused key.
        gw_url = gw.http.make_url("/v1/operations")
        bad_key = await gw.http.session.get(
            gw_url, headers={"Authorization": "Bearer pcgw_not-a-key"}
        )
        await seen.keep("wrong API key", bad_key)
        await seen.keep("bad input", await gw.post("/v1/orders", {"lines": "all of them"}))
        await seen.keep("unknown operation", await gw.http.get(f"/v1/operations/{uuid.uuid4()}"))
        await gw.submit("/v1/orders", purchase_order("northwind"), key="once")
        await seen.keep(
            "reused key", await gw.post("/v1/orders", purchase_order("litware"), key="once")
        )
        for op in (purchase, seats, refused, unsigned):
            await seen.keep(f"GET {op['id']}", await gw.http.get(f"/v1/operations/{op['id']}"))
        listing = await operations_listing(gw, seen)
        assert len(listing) >= 5
    assert not tape.misses

    # Every bearer token presented to the simulator (the gateway's, and this test's own).
    tokens = set(sim_http.server.app[SIMULATOR].token_cache) | {sim.token}
    secrets = {
        "the provider's client secret": PROVIDER["client_secret"],
        "the wrong client secret": WRONG_SECRET,
        "the admin password": password,
        **{f"bearer token {n}": token for n, token in enumerate(sorted(tokens))},
    }
    if gw.key:
        secrets["the marketplace's API key"] = gw.key
    assert tokens  # a search for no token would prove nothing
    places = {
        "gateway log (structlog, debug)": debug_logs.getvalue(),
        "stdlib log records (debug)": caplog.text,
        "cassette": tape_path.read_text(encoding="utf-8"),
        **seen.texts,
    }
    # The places really hold the run: the calls, the failures, the sign-ins.
    assert purchase["id"] in places["gateway log (structlog, debug)"]
    assert "/v1/customers" in places["cassette"]
    assert "oauth2/token" in places["cassette"]
    assert "<redacted>" in places["cassette"]

    leaks = [
        f"{what} in {where}"
        for what, secret in secrets.items()
        for where, text in places.items()
        if secret in text
    ]
    assert leaks == []


def test_the_log_blanks_secret_keys_and_bearer_tokens_quoted_in_text(
    debug_logs: io.StringIO,
) -> None:
    log = structlog.get_logger("gateway.test")
    log.warning("upstream", client_secret="s3cret", error="401 for Authorization: Bearer abc.def-g")
    try:
        int("refused: bearer eyJhbGciOi.eyJ0aWQi.sig")
    except ValueError:
        log.exception("step.crashed", api_key="pcgw_k3y")
    text = debug_logs.getvalue()
    for secret in ("s3cret", "abc.def-g", "eyJhbGciOi", "pcgw_k3y"):
        assert secret not in text
    assert "Bearer [redacted]" in text
    assert "ValueError" in text  # the traceback is kept, only the token blanked
