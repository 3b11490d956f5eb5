"""``pcgw ops list|show|retry`` against a running gateway with API keys on (and the simulator
behind it), through the real ``pcgw`` entry point in a subprocess: ``--json`` prints exactly what
the API answers, tables show the same operations, and every refusal is one line."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from tests.command import Run, run
from tests.gateway.conftest import Gateway, MakeGateway, purchase_order
from tests.gateway.processes import free_port
from tests.simulator.conftest import PartnerClient


async def pcgw(*args: str, gw: Gateway | None = None, env: dict[str, str] | None = None) -> Run:
    """``pcgw ARGS`` with the gateway's URL and key in the environment, as a user sets them."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PCSIM_", "PCGW_"))}
    base.update(COLUMNS="200", TERM="dumb")
    if gw is not None:
        base["PCGW_URL"] = str(gw.http.make_url("")).rstrip("/")
        base["PCGW_API_KEY"] = gw.key or ""
    return await run(*args, env={**base, **(env or {})})


async def api(gw: Gateway, path: str) -> Any:
    resp = await gw.http.get(path)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def failed_and_done(gw: Gateway, sim: PartnerClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """One purchase failed because Partner Center was down (so it may be retried), one done."""
    await sim.sim("POST", "/faults", {"method": "POST", "path": "^/v1/customers$", "status": 503},
                  status=201)  # fmt: skip
    failed = await gw.wait((await gw.submit("/v1/orders", purchase_order("downtime")))["id"])
    assert failed["status"] == "failed", failed
    await sim.sim("DELETE", "/faults", status=204)
    done = await gw.wait((await gw.submit("/v1/orders", purchase_order("smooth")))["id"])
    assert done["status"] == "succeeded", done
    return failed, done


FAST_FAIL = {"max_unavailable_attempts": 1, "pc_retry_attempts": 1,
             "pc_retry_backoff_seconds": 0.01, "pc_retry_jitter_seconds": 0.0}  # fmt: skip


async def test_list_and_show_print_the_apis_json_and_tables_of_the_same(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(**FAST_FAIL)
    failed, done = await failed_and_done(gw, sim)

    assert (await pcgw("ops", "list", "--json", gw=gw)).json() == await api(gw, "/v1/operations")
    only_failed = (await pcgw("ops", "list", "--status", "failed", "--json", gw=gw)).json()
    assert [op["id"] for op in only_failed["items"]] == [failed["id"]]
    first = (
        await pcgw("ops", "list", "--limit", "1", "--kind", "purchase", "--json", gw=gw)
    ).json()
    assert [op["id"] for op in first["items"]] == [done["id"]]  # newest first
    assert first["nextCursor"]

    table = (await pcgw("ops", "list", gw=gw)).ok().out
    lines = {line.split()[0]: line for line in table.splitlines() if line.strip()[:8] in
             (failed["id"][:8], done["id"][:8])}  # fmt: skip
    assert set(lines) == {failed["id"], done["id"]}
    assert "failed" in lines[failed["id"]]
    assert "create_customer (failed)" in lines[failed["id"]]
    assert "unavailable" in lines[failed["id"]]
    assert "succeeded" in lines[done["id"]]

    shown = (await pcgw("ops", "show", done["id"], "--json", gw=gw)).json()
    assert shown == await api(gw, f"/v1/operations/{done['id']}")
    text = (await pcgw("ops", "show", failed["id"], gw=gw)).ok().out
    for expected in (failed["id"], "purchase", "failed", "create_customer",
                     failed["steps"][0]["msRequestId"], "unavailable"):  # fmt: skip
        assert expected in text, text


async def test_retry_runs_a_failed_operation_again_and_refuses_a_finished_one(
    make_gateway: MakeGateway, sim: PartnerClient
) -> None:
    gw = await make_gateway(**FAST_FAIL)
    failed, done = await failed_and_done(gw, sim)
    retried = (await pcgw("ops", "retry", failed["id"], "--json", gw=gw)).json()
    assert (retried["id"], retried["status"]) == (failed["id"], "running")
    finished = await gw.wait(failed["id"])
    assert finished["status"] == "succeeded", finished

    again = await pcgw("ops", "retry", done["id"], gw=gw)
    again.refused(1, f"operation {done['id']} is succeeded; only a dead_letter operation")
    words = await pcgw("ops", "retry", finished["id"], gw=gw)
    words.refused(1, "only a dead_letter operation, or one that failed because Partner Center")


async def test_an_unknown_operation_and_a_bad_filter_are_one_line_each(
    make_gateway: MakeGateway,
) -> None:
    gw = await make_gateway()
    nobody = str(uuid.uuid4())
    (await pcgw("ops", "show", nobody, gw=gw)).refused(1, f"error: no operation {nobody}")
    (await pcgw("ops", "retry", nobody, gw=gw)).refused(1, f"error: no operation {nobody}")
    (await pcgw("ops", "list", "--status", "stuck", gw=gw)).refused(
        1, "error: status must be one of accepted, running"
    )
    (await pcgw("ops", "show", "not-an-id", gw=gw)).refused(1, "must be a GUID")


async def test_the_key_comes_from_the_environment_and_a_401_says_which_variable(
    make_gateway: MakeGateway, tmp_path: Path
) -> None:
    gw = await make_gateway()
    (await pcgw("ops", "list", gw=gw, env={"PCGW_API_KEY": ""})).refused(
        2, "wants an API key: set PCGW_API_KEY (or PCGW_API_KEY_FILE)"
    )
    (await pcgw("ops", "list", gw=gw, env={"PCGW_API_KEY": "pcgw_wrong"})).refused(
        2, "refused the API key: set PCGW_API_KEY"
    )
    key_file = tmp_path / "key"
    key_file.write_text(f"{gw.key}\n")
    env = {"PCGW_API_KEY_FILE": str(key_file)}
    listed = await pcgw("ops", "list", "--json", gw=gw, env={**env, "PCGW_API_KEY": ""})
    listed.refused(2, "PCGW_API_KEY and PCGW_API_KEY_FILE are both set")
    base = {"PCGW_URL": str(gw.http.make_url("")).rstrip("/"), **env}
    assert (await pcgw("ops", "list", "--json", env=base)).json() == {
        "items": [],
        "nextCursor": None,
    }
    help_text = (await pcgw("ops", "list", "--help")).ok().out
    assert "--key" not in help_text  # never a command-line option for the key
    assert "--api-key" not in help_text


async def test_no_gateway_is_one_line_and_status_2() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (("list",), ("show", str(uuid.uuid4())), ("retry", str(uuid.uuid4()))):
        run = await pcgw("ops", *args, "--url", url)
        run.refused(2, f"error: no gateway at {url}: is `pcgw serve` running?")
    (await pcgw("ops", "list", "--url", "localhost:8080")).refused(2, "must start with http://")
