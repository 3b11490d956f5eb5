"""``pcgw webhooks`` as an operator runs it (a real subprocess on the gateway's SQLite file,
while a gateway serves from it): set prints the secret once, show lists the events the
marketplace did not get and why, remove stops them."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from tests.command import Run, run
from tests.gateway.conftest import MARKETPLACE, MakeGateway, purchase_order
from tests.webhooks.conftest import Receiver
from tests.webhooks.test_gateway_emits import receiver_verifies


async def pcgw(database: str, *args: str) -> Run:
    return await run(
        "webhooks", *args, "--database-url", database, env={**os.environ, "COLUMNS": "200"}
    )


async def shown(database: str) -> dict[str, Any]:
    run = await pcgw(database, "show", MARKETPLACE, "--json")
    assert run.code == 0, run
    return dict(json.loads(run.out))


async def test_set_show_and_remove_a_marketplaces_webhook(
    make_gateway: MakeGateway, receiver: Receiver
) -> None:
    gw = await make_gateway(webhook_max_attempts=1)  # makes the marketplace's key
    assert gw.database_url is not None
    db = gw.database_url

    unknown = await pcgw(db, "set", "nobody", receiver.url)
    assert (unknown.code, unknown.out) == (1, "")
    assert "no marketplace is named 'nobody'" in unknown.err
    bad = await pcgw(db, "set", MARKETPLACE, "ftp://example.com/hooks")
    assert bad.code == 1
    assert "must be an absolute http:// or https:// URL" in bad.err

    made = await pcgw(db, "set", MARKETPLACE, receiver.url)
    assert made.code == 0, made
    secret = made.out.strip()
    assert made.out == secret + "\n"  # alone on stdout, for a script to capture
    assert secret.startswith("whsec_")
    assert "shown once" in made.err

    receiver.failures = 100  # the marketplace's receiver is down: 500 to everything
    op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
    assert op["status"] == "succeeded", op
    got = await receiver.wait_for(lambda r: len(r) == 2, "both events, once each")
    assert all(receiver_verifies(secret, r) for r in got)
    for _ in range(100):  # the give-up is recorded just after the receiver's answer
        listing = await shown(db)
        if listing["events"]["failed"] == 2:
            break
        await asyncio.sleep(0.05)
    assert listing["url"] == receiver.url
    assert listing["events"] == {"pending": 0, "delivered": 0, "failed": 2}
    assert [(e["type"], e["status"], e["attempts"], e["lastStatus"], e["lastError"])
            for e in listing["undelivered"]] == [
        ("operation.succeeded", "failed", 1, 500, "answered HTTP 500"),
        ("operation.running", "failed", 1, 500, "answered HTTP 500"),
    ]  # fmt: skip
    assert all(e["operationId"] == op["id"] for e in listing["undelivered"])
    assert secret not in json.dumps(listing)
    table = await pcgw(db, "show", MARKETPLACE)
    assert table.code == 0
    assert "0 delivered, 0 pending, 2 failed" in table.out
    assert "answered HTTP 500" in table.out

    moved = await pcgw(db, "set", MARKETPLACE, receiver.url + "/v2", "--keep-secret")
    assert (moved.code, moved.out) == (0, "")
    assert (await shown(db))["url"] == receiver.url + "/v2"

    removed = await pcgw(db, "remove", MARKETPLACE)
    assert removed.code == 0, removed
    gone = await pcgw(db, "show", MARKETPLACE)
    assert gone.code == 1
    assert f"marketplace '{MARKETPLACE}' has no webhook" in gone.err
    again = await pcgw(db, "remove", MARKETPLACE)
    assert again.code == 1


async def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    run = await pcgw(f"sqlite:///{tmp_path / 'missing' / 'pcgw.db'}", "show", "default")
    assert run.code == 2
    assert run.err.startswith("error: cannot use the database")
