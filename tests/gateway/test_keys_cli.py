"""``pcgw keys`` as an operator runs it: a real subprocess on the gateway's SQLite file, while a
gateway serves from that file — a key made, rotated or revoked there works, or stops working,
at the gateway's next request."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import aiohttp

from tests.command import Run, run
from tests.gateway.conftest import Gateway, MakeGateway
from tests.simulator.conftest import PartnerClient


async def pcgw(*args: str, database: Path | None = None, env: dict[str, str] | None = None) -> Run:
    where = ["--database-url", f"sqlite:///{database}"] if database is not None else []
    return await run("keys", *args, *where, env={**os.environ, **(env or {})})


async def status_with(gw: Gateway, key: str) -> int:
    async with (
        aiohttp.ClientSession(base_url=str(gw.http.make_url(""))) as session,
        session.get("/v1/operations", headers={"Authorization": f"Bearer {key}"}) as resp,
    ):
        return resp.status


async def listed(database: Path) -> dict[str, dict[str, Any]]:
    """``pcgw keys list --json``, by name."""
    run = await pcgw("list", "--json", database=database)
    assert run.code == 0, run.err
    return {row["name"]: row for row in json.loads(run.out)}


def stored(database: Path) -> bytes:
    return b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))


async def test_create_prints_the_key_once_and_the_running_gateway_takes_it(
    make_gateway: MakeGateway, tmp_path: Path
) -> None:
    database = tmp_path / "journal.db"
    gw = await make_gateway()
    made = await pcgw("create", "contoso-store", database=database)
    assert made.code == 0, made.err
    key = made.out.strip()
    assert key.startswith("pcgw_")
    assert len(key) == 48
    assert "shown once" in made.err
    assert await status_with(gw, key) == 200

    rows = await listed(database)
    assert sorted(rows) == ["contoso-store", "marketplace-a"]
    mine = rows["contoso-store"]
    assert key.startswith(mine["prefix"])
    assert len(mine["prefix"]) == 12
    assert mine["createdAt"]
    assert mine["rotatedAt"] is None
    assert mine["revokedAt"] is None
    table = await pcgw("list", database=database)
    assert "contoso-store" in table.out
    assert mine["prefix"] in table.out
    for shown in (
        json.dumps(await listed(database)),
        table.out,
        stored(database).decode("latin-1"),
    ):
        assert key not in shown
    assert hashlib.sha256(key.encode()).hexdigest() in stored(database).decode("latin-1")
    assert hashlib.sha256(key.encode()).hexdigest() not in table.out


async def test_rotate_stops_the_old_key_and_revoke_stops_the_new(
    make_gateway: MakeGateway, tmp_path: Path
) -> None:
    database = tmp_path / "journal.db"
    gw = await make_gateway()
    old = (await pcgw("create", "contoso-store", database=database)).out.strip()

    rotated = await pcgw("rotate", "contoso-store", database=database)
    assert rotated.code == 0, rotated.err
    new = rotated.out.strip()
    assert (await status_with(gw, old), await status_with(gw, new)) == (401, 200)

    graced = (
        await pcgw("rotate", "contoso-store", "--grace", "600", database=database)
    ).out.strip()
    assert (await status_with(gw, new), await status_with(gw, graced)) == (200, 200)
    row = (await listed(database))["contoso-store"]
    assert row["rotatedAt"]
    assert row["previousValidUntil"]

    revoked = await pcgw("revoke", "contoso-store", database=database)
    assert revoked.code == 0, revoked.err
    assert (await status_with(gw, new), await status_with(gw, graced)) == (401, 401)
    row = (await listed(database))["contoso-store"]
    assert row["revokedAt"]
    assert row["previousValidUntil"] is None
    assert await status_with(gw, gw.key or "") == 200  # another marketplace's key is untouched

    again = await pcgw("revoke", "contoso-store", database=database)
    assert (again.code, "already revoked" in again.err) == (1, True)
    reissued = (await pcgw("rotate", "contoso-store", database=database)).out.strip()
    assert await status_with(gw, reissued) == 200


async def test_unknown_and_duplicate_names_fail_with_a_sentence_and_change_nothing(
    tmp_path: Path,
) -> None:
    database = tmp_path / "keys.db"
    assert (await pcgw("create", "contoso-store", database=database)).code == 0
    cases = {
        ("create", "contoso-store"): "exists already",
        ("create", "no spaces"): "must be 1 to 100 letters",
        ("create", "trailing-newline\n"): "must be 1 to 100 letters",
        ("rotate", "nobody"): "no key is named 'nobody'",
        ("revoke", "nobody"): "no key is named 'nobody'",
        ("assign", "nobody", "00000000-0000-4000-8000-000000000000"): "no key is named",
        ("assign", "contoso-store", "not-an-id"): "is not an id",
        ("assign", "contoso-store", "00000000-0000-4000-8000-000000000000\n"): "is not an id",
    }
    for args, message in cases.items():
        run = await pcgw(*args, database=database)
        assert run.code == 1, (args, run)
        assert message in run.err, (args, run.err)
        assert "Traceback" not in run.err
        assert run.out == ""
    [row] = (await listed(database)).values()
    assert (row["name"], row["rotatedAt"], row["revokedAt"]) == ("contoso-store", None, None)


async def test_the_database_comes_from_pcgw_database_url_as_for_serve(tmp_path: Path) -> None:
    env = {"PCGW_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}"}
    made = await pcgw("create", "contoso-store", env=env)
    assert made.code == 0, made.err
    [row] = json.loads((await pcgw("list", "--json", env=env)).out)
    assert row["name"] == "contoso-store"


async def test_assign_gives_a_marketplace_a_customer_from_before_the_gateway(
    make_gateway: MakeGateway, sim: PartnerClient, tmp_path: Path
) -> None:
    database = tmp_path / "journal.db"
    gw = await make_gateway()
    customer, _ = await sim.customer_with_subscription("before.onmicrosoft.com")
    assert (await gw.http.get(f"/v1/customers/{customer}")).status == 404
    run = await pcgw("assign", "marketplace-a", customer, database=database)
    assert run.code == 0, run.err
    assert "1 customer(s) added" in run.err
    assert (await gw.http.get(f"/v1/customers/{customer}")).status == 200
    again = await pcgw("assign", "marketplace-a", customer, database=database)
    assert (again.code, "0 customer(s) added, 1 it had already" in again.err) == (0, True)


async def test_a_database_that_cannot_be_opened_is_exit_2_without_its_password() -> None:
    run = await pcgw("list", "--database-url", "postgresql://pcgw:sekrit@127.0.0.1:1/pcgw")
    assert run.code == 2, run
    assert "cannot use the database postgresql://pcgw:***@127.0.0.1:1/pcgw" in run.err
    assert "sekrit" not in run.err
    assert "Traceback" not in run.err
