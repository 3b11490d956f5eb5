"""Secrets come from the environment or from files, never from the command line (where the
process list shows them to every user of the machine): every ``PCGW_*`` setting may name a file
(``PCGW_PC_CLIENT_SECRET_FILE``), read at start with a clear error when it is missing or empty,
and no command takes a secret as an option."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings, SettingsError
from tests.gateway.conftest import Gateway, fast_settings, purchase_order
from tests.simulator.conftest import PROVIDER
from tests.simulator.test_cli import PCGW, ROOT

SECRET_WORDS = re.compile(r"secret|password|token|credential|-key\b", re.IGNORECASE)


async def test_the_client_secret_read_from_a_file_signs_the_gateway_in(
    sim_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "pc-secret"
    secret.write_text(PROVIDER["client_secret"] + "\n")  # as mounted: newline-terminated
    monkeypatch.setenv("PCGW_PC_CLIENT_SECRET_FILE", str(secret))
    base = fast_settings(sim_url, tmp_path / "journal.db", auth="off")
    overrides = base.model_dump(exclude={"pc_client_secret"})

    settings = GatewaySettings.from_env(**overrides)

    assert settings.pc_client_secret.get_secret_value() == PROVIDER["client_secret"]
    assert PROVIDER["client_secret"] not in repr(settings)
    client: TestClient[Any, Any] = TestClient(TestServer(create_gateway(settings)))
    await client.start_server()
    try:
        gw = Gateway(client)
        op = await gw.wait((await gw.submit("/v1/orders", purchase_order()))["id"])
        assert op["status"] == "succeeded", op
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "PCGW_PC_CLIENT_SECRET_FILE: no file at"),
        ("empty", "PCGW_PC_CLIENT_SECRET_FILE: {file} is empty"),
        ("newline only", "PCGW_PC_CLIENT_SECRET_FILE: {file} is empty"),
        ("both", "PCGW_PC_CLIENT_SECRET and PCGW_PC_CLIENT_SECRET_FILE are both set; set one"),
        ("a directory", "PCGW_PC_CLIENT_SECRET_FILE: cannot read"),
    ],
)
def test_pcgw_serve_refuses_to_start_on_an_unreadable_secret_naming_it(
    tmp_path: Path, setup: str, message: str
) -> None:
    file = tmp_path / "secret"
    file.write_text({"empty": "", "newline only": "\n"}.get(setup, "s3cret"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCGW_")}
    env.update(PYTHONPATH=str(ROOT), PCGW_DATABASE_URL=f"sqlite:///{tmp_path / 'j.db'}",
               PCGW_PC_TENANT_ID=PROVIDER["tenant_id"], PCGW_PC_CLIENT_ID=PROVIDER["client_id"])  # fmt: skip
    env["PCGW_PC_CLIENT_SECRET_FILE"] = {
        "missing": str(tmp_path / "nowhere"),
        "a directory": str(tmp_path),
    }.get(setup, str(file))
    if setup == "both":
        env["PCGW_PC_CLIENT_SECRET"] = "s3cret"

    done = subprocess.run([PCGW, "serve", "--port", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)  # fmt: skip

    assert done.returncode == 2, done.stderr
    assert message.format(file=file) in done.stderr
    assert "Traceback" not in done.stderr
    assert "s3cret" not in done.stderr + done.stdout
    assert not (tmp_path / "j.db").exists()  # refused before anything was opened


def test_a_bad_value_from_the_environment_is_a_clear_error_not_a_traceback(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCGW_")}
    env.update(PYTHONPATH=str(ROOT), PCGW_MAX_BODY_BYTES="lots")
    done = subprocess.run([PCGW, "serve"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=30)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "max_body_bytes" in done.stderr
    assert "Traceback" not in done.stderr


def test_settings_files_work_for_any_setting_and_refuse_a_clash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db").write_text("postgresql://gw:pw@db/pcgw\r\n")
    monkeypatch.setenv("PCGW_DATABASE_URL_FILE", str(tmp_path / "db"))
    assert GatewaySettings.from_env().database_url == "postgresql://gw:pw@db/pcgw"
    monkeypatch.setenv("PCGW_DATABASE_URL", "sqlite:///x.db")
    with pytest.raises(SettingsError, match="both set"):
        GatewaySettings.from_env()


@pytest.mark.parametrize(
    "command",
    [["serve"], ["up"], ["cassettes", "verify"], ["sim"]],
    ids=lambda c: " ".join(c),
)
def test_no_command_takes_a_secret_as_an_option(command: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "TERM": "dumb"}
    done = subprocess.run([PCGW, *command, "--help"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stderr
    options = set(re.findall(r"--[a-z][a-z0-9-]*", done.stdout))
    assert options  # the help was read
    assert {o for o in options if SECRET_WORDS.search(o)} == set()
