"""docker-compose.yml: the scaled-out shape a user starts with one command.

No Docker engine runs here, so the file is checked two ways: the compose client's own validation
(``docker compose config``, or Debian's ``docker-compose``) when either is installed, and always a
reading of the YAML for what the client cannot judge: replicas wired to the simulator and the
database only through environment variables the gateway really reads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.cli import SIM_PROVIDER
from gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
_DEFAULTED = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def compose_client() -> list[str] | None:
    """The compose command that works on this machine, if any."""
    candidates = [["docker", "compose"], ["docker-compose"]]
    for command in candidates:
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return command
    return None


def interpolate(value: Any) -> Any:
    """What compose makes of ``${VAR:-default}`` with none of the variables set."""
    if isinstance(value, str):
        return _DEFAULTED.sub(lambda m: m.group(2) or "", value).replace("$$", "$")
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(interpolate(yaml.safe_load(COMPOSE.read_text())))


def gateways(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if "pcgw serve" in " ".join(service.get("command", []))
    }


def test_the_compose_client_accepts_the_file() -> None:
    command = compose_client()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PCGW_", "PCSIM_", "POSTGRES_"))
    }
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_file_uses_the_compose_specification_without_a_version_key(
    compose: dict[str, Any],
) -> None:
    assert "version" not in compose
    assert {"postgres", "redis", "simulator"} <= set(compose["services"])


def test_postgres_and_redis_report_healthy_only_when_they_answer(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert services["simulator"]["healthcheck"]["test"]


def test_two_gateway_replicas_share_one_postgres_database_and_one_redis(
    compose: dict[str, Any],
) -> None:
    replicas = gateways(compose)
    assert len(replicas) >= 2
    urls = {s["environment"]["PCGW_DATABASE_URL"] for s in replicas.values()}
    assert len(urls) == 1
    assert next(iter(urls)).startswith("postgresql://")
    assert "@postgres:5432/" in next(iter(urls))
    assert {s["environment"]["PCGW_REDIS_URL"] for s in replicas.values()} == {
        "redis://redis:6379/0"
    }
    published = [p.split(":")[0] for s in replicas.values() for p in s.get("ports", [])]
    assert len(published) == len(set(published)), "two replicas publish the same host port"


def test_replicas_start_only_after_postgres_is_healthy_and_the_simulator_is_up(
    compose: dict[str, Any],
) -> None:
    for name, service in gateways(compose).items():
        depends = service["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["simulator"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
        # The schema is migrated once, before either replica races to create it.
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
    assert "pcgw db upgrade" in " ".join(compose["services"]["migrate"]["command"])


def test_every_gateway_setting_comes_from_an_environment_variable_the_gateway_reads(
    compose: dict[str, Any],
) -> None:
    known = {f"PCGW_{name.upper()}" for name in GatewaySettings.model_fields}
    raw = yaml.safe_load(COMPOSE.read_text())
    for name, service in gateways(compose).items():
        command = " ".join(service["command"])
        for option in ("--host", "--port", "--database-url"):
            assert option not in command, f"{name} passes {option} on the command line"
        env = service["environment"]
        assert set(env) <= known, f"{name}: unknown settings {set(env) - known}"
        # The values are read at startup: the settings object accepts them as they stand.
        settings = GatewaySettings.model_validate(
            {key.removeprefix("PCGW_").lower(): value for key, value in env.items()}
        )
        assert settings.pc_base_url == settings.pc_login_url == "http://simulator:8081"
        assert settings.pc_tenant_id == SIM_PROVIDER["pc_tenant_id"]
        assert settings.pc_client_id == SIM_PROVIDER["pc_client_id"]
        assert settings.pc_client_secret.get_secret_value() == SIM_PROVIDER["pc_client_secret"]
        for key in ("PCGW_PC_TENANT_ID", "PCGW_PC_CLIENT_ID", "PCGW_PC_CLIENT_SECRET"):
            written = raw["x-gateway"]["environment"][key]
            assert written.startswith(f"${{{key}:-"), f"{key} cannot be overridden: {written}"


def test_the_simulator_listens_where_the_gateways_look_for_it(compose: dict[str, Any]) -> None:
    env = compose["services"]["simulator"]["environment"]
    assert env["PCSIM_HOST"] == "0.0.0.0"
    assert env["PCSIM_PORT"] == "8081"
    assert "pcgw sim" in " ".join(compose["services"]["simulator"]["command"])
