"""The fidelity loop (`pcgw cassettes verify`): cassettes recorded with vcrpy against the simulator,
replayed against a running simulator, and the drift reported.

The simulator runs as its own process (the command drives its own event loop, as it does in CI);
cassettes are recorded here in tmp_path with vcrpy around a plain aiohttp session.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import vcr
import yaml
from typer.testing import CliRunner

from gateway.cli import cli
from tests.simulator.conftest import MCA_BODY, PROVIDER, customer_body, line

REPO = Path(__file__).resolve().parents[2]
PCGW = Path(sys.executable).parent / "pcgw"
RECORDER = vcr.VCR(
    record_mode="all",
    match_on=["method", "path", "query", "body"],
    filter_headers=["authorization"],
    filter_post_data_parameters=["client_secret"],
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("sim") / "simulator.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--port", str(port), "--no-access-log"],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    urllib.request.urlopen(f"{url}/_sim/clock", timeout=1).close()
                    break
                except (urllib.error.URLError, OSError):
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


class Caller:
    """The calls a recorded test makes: sign-in, then signed-in Partner Center calls."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base, self.token = session, base, ""

    async def sign_in(self, client_id: str, secret: str, tenant: str) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "resource": "https://api.partnercenter.microsoft.com",
        }
        async with self.session.post(f"{self.base}/{tenant}/oauth2/token", data=form) as resp:
            assert resp.status == 200, await resp.text()
            self.token = (await resp.json())["access_token"]

    async def call(
        self, method: str, path: str, body: Any = None, status: int = 200, request_id: str = ""
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        if request_id:
            headers["MS-RequestId"] = request_id
        async with self.session.request(
            method, self.base + path, json=body, headers=headers
        ) as resp:
            text = await resp.text()
            assert resp.status == status, f"{method} {path} -> {resp.status}: {text}"
            return json.loads(text) if text else None

    async def sim(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        async with self.session.request(method, f"{self.base}/_sim{path}", json=body) as resp:
            assert resp.status == status, await resp.text()
            return await resp.json()


Script = Callable[[Caller], Awaitable[None]]


def record(sim_url: str, cassette: Path, script: Script, fault: Any = None) -> Path:
    """Record ``script`` into ``cassette`` against a freshly reset simulator, the way a test would
    (with ``fault`` injected before recording starts, as the project's recorder leaves it out)."""

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{sim_url}/_sim/reset") as resp:
                assert resp.status == 204
            if fault:
                async with session.post(f"{sim_url}/_sim/faults", json=fault) as resp:
                    assert resp.status == 201
            with RECORDER.use_cassette(str(cassette)):
                caller = Caller(session, sim_url)
                await caller.sign_in(
                    PROVIDER["client_id"], PROVIDER["client_secret"], PROVIDER["tenant_id"]
                )
                await script(caller)

    asyncio.run(run())
    return cassette


async def purchase(caller: Caller, quantity: int = 5) -> None:
    customer = await caller.call("POST", "/v1/customers", customer_body("fid.onmicrosoft.com"), 201)
    cid = customer["id"]
    await caller.call("POST", f"/v1/customers/{cid}/agreements", MCA_BODY, 201)
    cart = await caller.call(
        "POST",
        f"/v1/customers/{cid}/carts",
        {"lineItems": [line(quantity=quantity)], "partnerOnRecordAttestationAccepted": True},
        201,
    )
    result = await caller.call(
        "POST", f"/v1/customers/{cid}/carts/{cart['id']}/checkout", None, 201
    )
    sub_id = result["orders"][0]["lineItems"][0]["subscriptionId"]
    await caller.call("GET", f"/v1/customers/{cid}/subscriptions/{sub_id}")
    await caller.call("GET", "/v1/customers/not-a-customer", None, 403)


async def big_purchase(caller: Caller) -> None:
    await purchase(caller, quantity=30)


def verify(*args: str) -> Any:
    return CliRunner().invoke(cli, ["cassettes", "verify", *args])


def test_a_clean_replay_reports_every_response_matching_and_exits_0(
    sim_url: str, tmp_path: Path
) -> None:
    record(sim_url, tmp_path / "cassettes" / "purchase.yaml", purchase)

    result = verify("--cassettes", str(tmp_path / "cassettes"), "--against", sim_url)

    assert result.exit_code == 0, result.output
    assert "purchase.yaml: 7 requests, every response matches" in result.output
    assert "1 cassettes, 7 requests replayed" in result.output
    assert "no response differs" in result.output


def test_a_simulator_that_refuses_what_was_recorded_is_reported_with_status_code_and_fields(
    sim_url: str, tmp_path: Path
) -> None:
    record(sim_url, tmp_path / "big.yaml", big_purchase)

    result = verify(
        "--cassettes", str(tmp_path / "big.yaml"), "--against", sim_url,
        "--sim-config", '{"sandboxLimits": true}', "--json",
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["ok"] is False
    [cassette] = report["cassettes"]
    differences = {d["index"]: d for d in cassette["differences"]}
    # 30 licences are over the sandbox's 25: the checkout (5th request) no longer succeeds.
    checkout = differences[5]
    assert checkout["method"] == "POST"
    assert checkout["target"].endswith("/checkout")
    assert checkout["status"]["recorded"] == 201
    assert checkout["status"]["simulator"] >= 400
    assert checkout["code"]["recorded"] is None
    assert checkout["code"]["simulator"] is not None
    assert "orders" in checkout["missing"]
    assert "code" in checkout["added"]
    # The sign-in, customer, agreement and cart still answer as recorded.
    assert not {1, 2, 3} & set(differences)


def test_the_text_report_names_the_request_and_each_difference(
    sim_url: str, tmp_path: Path
) -> None:
    record(sim_url, tmp_path / "big.yaml", big_purchase)

    result = verify(
        "--cassettes", str(tmp_path / "big.yaml"), "--against", sim_url,
        "--sim-config", '{"sandboxLimits": true}',
    )  # fmt: skip

    assert result.exit_code == 1
    assert "big.yaml: 7 requests" in result.output
    assert "#5 POST /v1/customers/" in result.output
    assert "status: recorded 201, simulator 4" in result.output
    assert "error code: recorded none, simulator " in result.output
    assert "fields missing from the simulator: " in result.output
    assert "orders" in result.output


def _edit_response(cassette: Path, index: int, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(cassette.read_text())
    response = data["interactions"][index]["response"]
    body = json.loads(response["body"]["string"])
    change(body)
    response["body"]["string"] = json.dumps(body)
    cassette.write_text(yaml.safe_dump(data))


def test_fields_the_recording_has_and_the_simulator_lacks_are_named_and_values_are_ignored(
    sim_url: str, tmp_path: Path
) -> None:
    cassette = record(sim_url, tmp_path / "sandbox.yaml", purchase)

    def drift(body: dict[str, Any]) -> None:
        # As if recorded against Microsoft: another id, a field more, a field fewer.
        body["id"] = "0d7c6b7a-1111-2222-3333-444455556666"
        body["associatedPartnerId"] = "2000002"
        del body["commerceId"]

    _edit_response(cassette, 1, drift)  # the customer creation

    result = verify("--cassettes", str(cassette), "--against", sim_url, "--json")

    assert result.exit_code == 1, result.output
    [difference] = json.loads(result.output)["cassettes"][0]["differences"]
    assert difference == {
        "index": 2,
        "method": "POST",
        "target": "/v1/customers",
        "missing": ["associatedPartnerId"],
        "added": ["commerceId"],
    }


def test_a_cassette_that_makes_a_partner_and_signs_in_as_it_replays_clean(
    sim_url: str, tmp_path: Path
) -> None:
    async def second_partner(caller: Caller) -> None:
        made = await caller.sim(
            "POST", "/partners", {"name": "Fabrikam", "kind": "direct", "country": "IT"}, 201
        )
        await caller.sign_in(made["clientId"], made["clientSecret"], made["tenantId"])
        await caller.call("POST", "/v1/customers", customer_body("fab.onmicrosoft.com"), 201)
        await caller.call("GET", "/v1/customers")

    record(sim_url, tmp_path / "partner.yaml", second_partner)

    result = verify("--cassettes", str(tmp_path / "partner.yaml"), "--against", sim_url)

    assert result.exit_code == 0, result.output
    assert "partner.yaml: 5 requests, every response matches" in result.output


def test_a_cassette_with_no_sign_in_is_replayed_as_the_configured_partner(
    sim_url: str, tmp_path: Path
) -> None:
    cassette = record(sim_url, tmp_path / "nosignin.yaml", purchase)
    data = yaml.safe_load(cassette.read_text())
    data["interactions"] = data["interactions"][1:]
    cassette.write_text(yaml.safe_dump(data))

    result = verify("--cassettes", str(cassette), "--against", sim_url)

    assert result.exit_code == 0, result.output
    assert "6 requests, every response matches" in result.output


@pytest.mark.parametrize("source", ["variable", "file"])
def test_a_wrong_client_secret_stops_the_run_with_exit_2_naming_the_client(
    sim_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    cassette = record(sim_url, tmp_path / "c.yaml", purchase)
    if source == "variable":
        monkeypatch.setenv("PCGW_PC_CLIENT_SECRET", "nope")
    else:  # the secret from a mounted file, its trailing newline dropped
        (tmp_path / "secret").write_text("nope\n")
        monkeypatch.setenv("PCGW_PC_CLIENT_SECRET_FILE", str(tmp_path / "secret"))

    result = verify("--cassettes", str(cassette), "--against", sim_url)

    assert result.exit_code == 2
    assert f"signing in as {PROVIDER['client_id']}" in result.output
    assert "401" in result.output


def test_a_missing_cassette_directory_exits_2_and_says_where_it_looked(tmp_path: Path) -> None:
    result = verify("--cassettes", str(tmp_path / "none"), "--against", "http://127.0.0.1:9")

    assert result.exit_code == 2
    assert f"no cassette directory at {tmp_path / 'none'}" in result.output


def test_an_empty_cassette_directory_exits_2_rather_than_passing(tmp_path: Path) -> None:
    result = verify("--cassettes", str(tmp_path), "--against", "http://127.0.0.1:9")

    assert result.exit_code == 2
    assert "no cassettes" in result.output


def test_no_simulator_at_the_address_exits_2_and_names_it(sim_url: str, tmp_path: Path) -> None:
    cassette = record(sim_url, tmp_path / "c.yaml", purchase)
    nowhere = f"http://127.0.0.1:{_free_port()}"

    result = verify("--cassettes", str(cassette), "--against", nowhere)

    assert result.exit_code == 2
    assert f"POST {nowhere}/_sim/reset: no answer" in result.output


def test_a_file_that_is_not_a_cassette_exits_2_and_names_it(tmp_path: Path) -> None:
    (tmp_path / "notes.yaml").write_text("just: text\n")

    result = verify("--cassettes", str(tmp_path), "--against", "http://127.0.0.1:9")

    assert result.exit_code == 2
    assert "notes.yaml: not a vcrpy cassette" in result.output


def test_bad_sim_config_exits_2(tmp_path: Path) -> None:
    result = verify("--cassettes", str(tmp_path), "--sim-config", "[1]")

    assert result.exit_code == 2
    assert "--sim-config must be a JSON object" in result.output


def test_the_installed_command_documents_its_options() -> None:
    done = subprocess.run(
        [PCGW, "cassettes", "verify", "--help"], capture_output=True, text=True, timeout=30
    )

    assert done.returncode == 0, done.stderr
    for option in ("--cassettes", "--against", "--json", "--sim-config"):
        assert option in done.stdout
    # Secrets come from the environment or a file, never the command line (the process list).
    assert "--client-secret" not in done.stdout
    assert "--control-key" not in done.stdout
    assert "PCGW_PC_CLIENT_SECRET_FILE" in done.stdout


def test_the_installed_command_exits_1_with_a_json_report_on_drift(
    sim_url: str, tmp_path: Path
) -> None:
    cassette = record(sim_url, tmp_path / "big.yaml", big_purchase)

    done = subprocess.run(
        [PCGW, "cassettes", "verify", "--cassettes", str(cassette), "--against", sim_url,
         "--sim-config", '{"sandboxLimits": true}', "--json"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["differing"] >= 1
    assert report["cassettes"][0]["path"] == "big.yaml"


def test_a_cassette_from_the_projects_redacting_recorder_replays_clean(
    sim_url: str, tmp_path: Path
) -> None:
    from adapters.recording.cassettes import Recording, cassette

    path = tmp_path / "redacted.yaml"

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{sim_url}/_sim/reset") as resp:
                assert resp.status == 204
            with cassette(path, Recording(mode="all")):
                caller = Caller(session, sim_url)
                await caller.sign_in(
                    PROVIDER["client_id"], PROVIDER["client_secret"], PROVIDER["tenant_id"]
                )
                await purchase(caller)

    asyncio.run(run())
    assert PROVIDER["client_secret"] not in path.read_text()

    result = verify("--cassettes", str(path), "--against", sim_url)

    assert result.exit_code == 0, result.output
    assert "7 requests, every response matches" in result.output


def test_a_recorded_transient_failure_the_simulator_does_not_repeat_is_noted_not_counted(
    sim_url: str, tmp_path: Path
) -> None:
    async def retried(caller: Caller) -> None:
        # A retry, as the adapter makes it: the same MS-RequestId (a header: replayed as recorded).
        body, request_id = customer_body("retry.onmicrosoft.com"), str(uuid.uuid4())
        await caller.call("POST", "/v1/customers", body, 503, request_id)
        await caller.call("POST", "/v1/customers", body, 201, request_id)

    fault = {"method": "POST", "path": "^/v1/customers$", "status": 503, "times": 1}
    cassette = record(sim_url, tmp_path / "retry.yaml", retried, fault=fault)

    result = verify("--cassettes", str(cassette), "--against", sim_url, "--json")

    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)["cassettes"]
    assert report["differences"] == []
    [transient] = report["transient"]
    assert (transient["index"], transient["status"]) == (2, {"recorded": 503, "simulator": 201})
