"""The gateway against the real simulator: both apps in-process on real loopback ports.

``gw`` is a client of the gateway's northbound API; ``sim`` drives the simulator's control plane
and reads its Partner Center state as the provider; ``make_gateway`` starts another gateway on
the same journal (to restart one mid-operation).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from adapters.storage import SqlAccess, SqlJournal
from gateway import keys
from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from simulator import SimulatorSettings
from simulator import create_app as create_simulator
from tests.simulator.conftest import PROVIDER, PartnerClient, sign_in

FINISHED = ("succeeded", "failed")


class Gateway:
    """A client of one gateway; made by ``make_gateway`` it sends the API key of marketplace
    ``marketplace`` on every request (``key``), on the journal at ``database_url``."""

    def __init__(
        self,
        http: TestClient[Any, Any],
        *,
        marketplace: str = "default",
        key: str | None = None,
        database_url: str | None = None,
    ) -> None:
        self.http = http
        self.marketplace, self.key, self.database_url = marketplace, key, database_url

    async def assign(self, *customer_ids: str) -> None:
        """What ``pcgw keys assign`` does: give this marketplace customers the gateway did not
        bring in itself (ones a test made straight in the simulator)."""
        assert self.database_url is not None
        await on_keys(
            self.database_url, lambda store: keys.assign(store, self.marketplace, [*customer_ids])
        )

    async def post(self, path: str, body: Any, key: str | None = None) -> ClientResponse:
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        return await self.http.post(path, json=body, headers=headers)

    async def submit(self, path: str, body: Any, key: str | None = None) -> dict[str, Any]:
        resp = await self.post(path, body, key)
        text = await resp.text()
        assert resp.status == 202, text
        return dict(await resp.json())

    async def operation(self, op_id: str) -> dict[str, Any]:
        resp = await self.http.get(f"/v1/operations/{op_id}")
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())

    async def wait(self, op_id: str, until: tuple[str, ...] = FINISHED) -> dict[str, Any]:
        """Poll until the operation reaches one of ``until`` (at most 20 s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20.0
        while True:
            op = await self.operation(op_id)
            if op["status"] in until:
                return op
            assert loop.time() < deadline, f"operation still {op['status']}: {op}"
            await asyncio.sleep(0.02)


def purchase_order(prefix: str = "contoso", country: str = "US", **changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "customer": {
            "newTenant": {
                "domainPrefix": prefix,
                "companyName": "Contoso Ltd",
                "address": {"line1": "1 Main St", "city": "Springfield", "state": "WA",
                            "postalCode": "98052", "country": country},
                "contact": {"firstName": "Jane", "lastName": "Doe", "email": "jane@contoso.com"},
            }
        },
        "mca": {"firstName": "Jane", "lastName": "Doe", "email": "jane@contoso.com",
                "acceptedOn": "2026-01-02"},
        "reseller": {"mpnId": "2000002", "domain": "fabrikamresellers.onmicrosoft.com"},
        "partnerOnRecordAttestation": True,
        "lines": [{"planCode": "Microsoft 365 Business Basic (NCE COM 1YR MTH)", "quantity": 5}],
    }  # fmt: skip
    order.update(changes)
    return order


def fast_settings(sim_url: str, database: Path, **changes: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "port": 0,
        "database_url": f"sqlite:///{database}",
        "pc_base_url": sim_url,
        "pc_login_url": sim_url,
        "pc_tenant_id": PROVIDER["tenant_id"],
        "pc_client_id": PROVIDER["client_id"],
        "pc_client_secret": PROVIDER["client_secret"],
        "workers": 4,
        "renewal_retry_seconds": 0.2,
        "order_poll_seconds": 0.05,
        "invitation_poll_seconds": 0.1,
        "pc_timeout": 10.0,
        "unavailable_backoff_seconds": 0.05,
        # The contract and fuzz tests look at the API's shapes, not at who calls it;
        # ``make_gateway`` turns keys on.
        "auth": "off",
    }
    values.update(changes)
    return GatewaySettings.model_validate(values)


class ProductionLikeServer(TestServer):
    """A test server that, like ``web.run_app`` behind ``pcgw sim``, lets a handler finish after
    its client went away. aiohttp's ``TestServer`` cancels it instead, which would hide the hard
    case: Partner Center applying a write whose caller already gave up."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        kwargs["handler_cancellation"] = False
        return web.AppRunner(self.app, **kwargs)


@pytest.fixture
async def sim_http() -> AsyncIterator[TestClient[Any, Any]]:
    """The simulator as ``pcgw sim`` serves it, on a real loopback port."""
    client: TestClient[Any, Any] = TestClient(
        ProductionLikeServer(create_simulator(SimulatorSettings()))
    )
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def sim(sim_http: TestClient[Any, Any]) -> PartnerClient:
    """The simulator, signed in as the provider the gateway acts for."""
    return await sign_in(
        sim_http, PROVIDER["client_id"], PROVIDER["client_secret"], PROVIDER["tenant_id"]
    )


@pytest.fixture
def sim_url(sim_http: TestClient[Any, Any]) -> str:
    return str(sim_http.make_url("")).rstrip("/")


MakeGateway = Callable[..., Awaitable[Gateway]]


T = TypeVar("T")


async def on_keys(database_url: str, work: Callable[[SqlAccess], Awaitable[T]]) -> T:
    """``work`` on the key store of the journal at ``database_url``, as ``pcgw keys`` does."""
    journal = SqlJournal(database_url)
    try:
        await journal.upgrade()
        return await work(SqlAccess(journal))
    finally:
        await journal.close()


#: The marketplace ``make_gateway``'s clients call as.
MARKETPLACE = "marketplace-a"


@pytest.fixture
async def make_gateway(sim_url: str, tmp_path: Path) -> AsyncIterator[MakeGateway]:
    """Starts a gateway (``changes`` to its settings); with auth on (the default here) the
    client sends a real key of ``MARKETPLACE``, made once per database as ``pcgw keys create``
    makes it, so every request goes through the key check."""
    started: list[TestClient[Any, Any]] = []
    made: dict[str, str] = {}

    async def make(**changes: Any) -> Gateway:
        settings = fast_settings(sim_url, tmp_path / "journal.db", **{"auth": "keys", **changes})
        if settings.auth == "off":
            client: TestClient[Any, Any] = TestClient(TestServer(create_gateway(settings)))
            await client.start_server()
            started.append(client)
            return Gateway(client, database_url=settings.database_url)
        url = settings.database_url
        if url not in made:
            made[url] = await on_keys(
                url, lambda store: keys.create(store, MARKETPLACE, datetime.now(UTC))
            )
        client = TestClient(
            TestServer(create_gateway(settings)),
            headers={"Authorization": f"Bearer {made[url]}"},
        )
        await client.start_server()
        started.append(client)
        return Gateway(client, marketplace=MARKETPLACE, key=made[url], database_url=url)

    try:
        yield make
    finally:
        for client in reversed(started):
            await client.close()


@pytest.fixture
async def gw(make_gateway: MakeGateway) -> Gateway:
    return await make_gateway()
