"""The gateway's own webhooks, as a marketplace meets them: each change of an operation's state
arrives at the marketplace's URL as a signed ``operation.<status>`` event, in order, at least
once with a stable id; a receiver that fails is retried; an event written before a crash or a
stop is sent by the next process."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.storage import SqlAccess, SqlJournal, SqlWebhooks
from gateway.settings import GatewaySettings
from gateway.webhooks import endpoints
from gateway.webhooks.outbox import verify
from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.simulator.conftest import PartnerClient
from tests.webhooks.conftest import Received, Receiver

SECRET = "whsec_for-the-marketplace-in-tests"


async def point(gw: Gateway, url: str) -> str:
    """What ``pcgw webhooks set <marketplace> <url>`` does; returns the new secret."""
    assert gw.database_url is not None
    journal = SqlJournal(gw.database_url)
    try:
        secret = await endpoints.set_endpoint(
            SqlWebhooks(journal), SqlAccess(journal), gw.marketplace, url, datetime.now(UTC),
            keep_secret=False,
        )  # fmt: skip
    finally:
        await journal.close()
    assert secret is not None
    return secret


def receiver_verifies(secret: str, received: Received) -> bool:
    """The README's six lines, as a marketplace would write them."""
    fields = dict(part.split("=", 1) for part in received.headers["Pcgw-Signature"].split(","))
    signed = fields["t"].encode() + b"." + received.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= 300
    return fresh and hmac.compare_digest(expected, fields["v1"])


def finished(received: list[Received]) -> bool:
    return any(r.status == 200 and r.json()["type"] == "operation.succeeded" for r in received)


async def test_a_purchase_reaches_its_marketplace_as_running_then_succeeded_signed(
    make_gateway: MakeGateway, receiver: Receiver
) -> None:
    gw = await make_gateway()
    secret = await point(gw, receiver.url)
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op

    got = await receiver.wait_for(finished, "operation.succeeded")
    events = [r.json() for r in got]
    assert [e["type"] for e in events] == ["operation.running", "operation.succeeded"]
    assert all(receiver_verifies(secret, r) for r in got)
    assert all(verify(secret, r.headers["Pcgw-Signature"], r.body, time.time()) for r in got)
    assert not receiver_verifies("whsec_another-marketplaces-secret", got[0])
    running, succeeded = events
    assert list(running) == ["id", "type", "createdAt", "operation"]
    assert running["id"] != succeeded["id"]
    assert [r.headers["Pcgw-Event-Id"] for r in got] == [running["id"], succeeded["id"]]
    assert running["operation"]["id"] == succeeded["operation"]["id"] == op["id"]
    assert (running["operation"]["status"], succeeded["operation"]["status"]) == (
        "running", "succeeded",
    )  # fmt: skip
    # What GET /v1/operations/{id} shows now, without the one-time secrets (the new tenant's
    # admin credentials never travel in an event).
    assert "adminCredentials" in op["result"]  # handed out once, to the one who asked
    assert "adminCredentials" not in json.dumps(events)
    del op["result"]["adminCredentials"]
    assert succeeded["operation"]["result"] == op["result"]
    assert succeeded["operation"]["steps"] == op["steps"]


async def test_an_endpoint_from_the_environment_gets_the_one_marketplace_of_auth_off(
    make_gateway: MakeGateway, receiver: Receiver
) -> None:
    gw = await make_gateway(auth="off", webhook_url=receiver.url, webhook_secret=SECRET)
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    got = await receiver.wait_for(finished, "operation.succeeded")
    assert [r.json()["type"] for r in got] == ["operation.running", "operation.succeeded"]
    assert got[-1].json()["operation"]["id"] == op["id"]
    assert all(receiver_verifies(SECRET, r) for r in got)


async def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try_with_the_same_id(
    make_gateway: MakeGateway, receiver: Receiver
) -> None:
    gw = await make_gateway(webhook_retry_seconds=0.05)
    secret = await point(gw, receiver.url)
    receiver.failures = 2
    await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])

    got = await receiver.wait_for(finished, "operation.succeeded")
    assert [(r.json()["type"], r.status) for r in got] == [
        ("operation.running", 500), ("operation.running", 500), ("operation.running", 200),
        ("operation.succeeded", 200),  # held back until the one before it got through
    ]  # fmt: skip
    assert len({r.json()["id"] for r in got[:3]}) == 1
    assert got[0].body == got[2].body
    assert all(receiver_verifies(secret, r) for r in got)
    assert await shown(gw) == {"pending": 0, "delivered": 2, "failed": 0}


async def test_an_event_not_yet_delivered_survives_a_gateway_stop_and_goes_out_after(
    make_gateway: MakeGateway, receiver: Receiver, sim: PartnerClient
) -> None:
    first = await make_gateway(webhook_timeout_seconds=30)
    secret = await point(first, receiver.url)
    receiver.hold.clear()  # the receiver takes the first event and does not answer
    op = await first.wait((await first.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op
    await receiver.wait_for(lambda r: len(r) == 1, "the first attempt")
    await first.http.close()  # the gateway stops with its event in flight, unanswered

    receiver.hold.set()
    await make_gateway()  # the next process, on the same database
    got = await receiver.wait_for(finished, "operation.succeeded after the restart")
    assert [r.json()["type"] for r in got] == [
        "operation.running", "operation.running", "operation.succeeded",
    ]  # fmt: skip
    assert got[0].body == got[1].body  # the same event again, same id: at least once
    assert all(receiver_verifies(secret, r) for r in got)


async def shown(gw: Gateway) -> dict[str, int]:
    """Events by status, as ``pcgw webhooks show`` counts them (once nothing is in flight)."""
    assert gw.database_url is not None
    for _ in range(100):
        journal = SqlJournal(gw.database_url)
        try:
            counts: dict[str, Any] = (await endpoints.show(SqlWebhooks(journal), gw.marketplace))[
                "events"
            ]
        finally:
            await journal.close()
        if counts["pending"] == 0:
            return dict(counts)
        await asyncio.sleep(0.05)
    return dict(counts)


def test_the_environment_endpoint_is_checked_and_only_for_auth_off() -> None:
    url, secret = "https://market.example/hooks", SECRET
    with pytest.raises(ValueError, match="set both or neither"):
        GatewaySettings(auth="off", webhook_url=url)
    with pytest.raises(ValueError, match="pcgw webhooks set"):
        GatewaySettings(auth="keys", webhook_url=url, webhook_secret=secret)
    with pytest.raises(ValueError, match="at least 16 characters"):
        GatewaySettings(auth="off", webhook_url=url, webhook_secret="short")
    with pytest.raises(ValueError, match="absolute http:// or https:// URL"):
        GatewaySettings(auth="off", webhook_url="market.example/hooks", webhook_secret=secret)
    with pytest.raises(ValueError, match="must not carry a user or password"):
        GatewaySettings(
            auth="off", webhook_url="https://u:p@market.example/", webhook_secret=secret
        )
    assert GatewaySettings(auth="off", webhook_url=url, webhook_secret=secret).webhook_url == url
