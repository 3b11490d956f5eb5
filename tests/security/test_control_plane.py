"""The simulator's control plane (``/_sim``) can be put behind a key or switched off: off, every
``/_sim`` path is a 404 in exactly the body an unknown Partner Center route gets, so nobody can
reset, fault or read the world of a simulator shared beyond its tests — or tell there is one.
Through the app, then through ``pcgw sim`` with the key from a file and ``--no-control``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from simulator import SimulatorSettings, create_app
from simulator.settings import SettingsError
from tests.simulator.conftest import PROVIDER, sign_in
from tests.simulator.test_cli import PCGW, ROOT, free_port

CONTROL_PATHS = [
    ("GET", "/_sim/state"),
    ("GET", "/_sim/clock"),
    ("POST", "/_sim/reset"),
    ("POST", "/_sim/faults"),
    ("GET", "/_sim/ui/data"),  # the dashboard's data (its page shell holds none: tests/ui)
    ("GET", "/_sim"),
]


async def _client(settings: SimulatorSettings) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


@pytest.fixture
async def off() -> AsyncIterator[TestClient[Any, Any]]:
    client = await _client(SimulatorSettings(control=False))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def keyed() -> AsyncIterator[TestClient[Any, Any]]:
    client = await _client(SimulatorSettings(control_key="k3y"))
    try:
        yield client
    finally:
        await client.close()


@pytest.mark.parametrize(("method", "path"), CONTROL_PATHS)
async def test_switched_off_every_control_path_is_partner_centers_404(
    off: TestClient[Any, Any], method: str, path: str
) -> None:
    resp = await off.request(method, path, json={"status": 500}, headers={"X-Sim-Key": "any"})
    body = await resp.json()
    unknown = await off.get("/nothing-here")  # a path no route serves
    assert resp.status == unknown.status == 404
    assert body == {
        "code": 1000,
        "description": f"The resource {path} was not found.",
        "data": [],
        "source": "PartnerFD",
    }
    assert body == {**await unknown.json(), "description": f"The resource {path} was not found."}


async def test_switched_off_the_world_is_untouched_and_partner_center_still_answers(
    off: TestClient[Any, Any],
) -> None:
    await off.post("/_sim/faults", json={"path": ".", "status": 500})
    pc = await sign_in(off, PROVIDER["client_id"], PROVIDER["client_secret"], PROVIDER["tenant_id"])
    assert (await pc.ok("GET", "/v1/customers"))["totalCount"] == 0  # no fault was added


@pytest.mark.parametrize(("method", "path"), CONTROL_PATHS)
async def test_with_a_key_every_control_path_needs_it_known_or_not(
    keyed: TestClient[Any, Any], method: str, path: str
) -> None:
    resp = await keyed.request(method, path, json={})
    body = await resp.json()
    assert resp.status == 401, body
    assert body["source"] == "Simulator"
    assert "k3y" not in json.dumps(body)
    right = await keyed.get("/_sim/clock", headers={"X-Sim-Key": "k3y"})
    assert right.status == 200


# -- through ``pcgw sim`` ---------------------------------------------------------------------


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCSIM_")}
    return {**env, "PYTHONPATH": str(ROOT), **values}


def get(port: int, path: str, key: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if key is not None:
        request.add_header("X-Sim-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:
            return resp.status, dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        return exc.code, dict(json.loads(exc.read()))


def serving(args: list[str], env: dict[str, str], started: list[subprocess.Popen[bytes]]) -> int:
    port = free_port()
    proc = subprocess.Popen([PCGW, "sim", "--port", str(port), "--no-access-log", *args],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    started.append(proc)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"pcgw sim exited with {proc.returncode}"
        try:
            get(port, "/nothing-here")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
        else:
            return port
    pytest.fail(f"pcgw sim did not answer on {port}")


def test_pcgw_sim_takes_its_control_key_from_a_file(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    (tmp_path / "key").write_text("from-a-file\n")  # as a mounted secret: newline-terminated
    port = serving([], _env(PCSIM_CONTROL_KEY_FILE=str(tmp_path / "key")), processes)
    assert get(port, "/_sim/clock")[0] == 401
    assert get(port, "/_sim/clock", key="from-a-file") == (200, {"now": "2026-01-05T09:00:00Z"})


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--no-control"], {}), ([], {"PCSIM_CONTROL": "off"})],
    ids=["--no-control", "PCSIM_CONTROL=off"],
)
def test_pcgw_sim_can_serve_without_a_control_plane(
    processes: list[subprocess.Popen[bytes]], args: list[str], env: dict[str, str]
) -> None:
    port = serving(args, _env(**env), processes)
    status, body = get(port, "/_sim/state")
    assert (status, body["source"]) == (404, "PartnerFD")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "PCSIM_CONTROL_KEY_FILE: no file at"),
        ("empty", "is empty"),
        ("both", "PCSIM_CONTROL_KEY and PCSIM_CONTROL_KEY_FILE are both set"),
    ],
)
def test_pcgw_sim_refuses_to_start_on_an_unreadable_secret_naming_it(
    tmp_path: Path, setup: str, message: str
) -> None:
    key = tmp_path / "key"
    env = {
        "missing": {"PCSIM_CONTROL_KEY_FILE": str(tmp_path / "nowhere")},
        "empty": {"PCSIM_CONTROL_KEY_FILE": str(key)},
        "both": {"PCSIM_CONTROL_KEY_FILE": str(key), "PCSIM_CONTROL_KEY": "k"},
    }[setup]
    key.write_text("" if setup == "empty" else "k")
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "--port", str(free_port())],
        cwd=ROOT, env=_env(**env), capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_switch_reads_on_and_off_and_refuses_anything_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for value, control in (("off", False), ("OFF", False), ("on", True), ("1", True)):
        monkeypatch.setenv("PCSIM_CONTROL", value)
        assert SimulatorSettings.from_env().control is control
    monkeypatch.setenv("PCSIM_CONTROL", "maybe")
    with pytest.raises(SettingsError, match="PCSIM_CONTROL must be on or off"):
        SimulatorSettings.from_env()
