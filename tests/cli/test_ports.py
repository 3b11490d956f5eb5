"""``pcgw serve`` and ``pcgw up`` on a port another process holds: one line saying which and how
to choose another, exit status 2, nothing started (``up`` must not take the other process's
answers for its own simulator's)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.command import PCGW
from tests.gateway.processes import free_port


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port something is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    signed_in = {"PCGW_PC_TENANT_ID": "t", "PCGW_PC_CLIENT_ID": "c", "PCGW_PC_CLIENT_SECRET": "s"}
    return subprocess.run(
        [PCGW, *args, "--database-url", f"sqlite:///{tmp_path / 'gw.db'}"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, **signed_in},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("command", "option"),
    [(["serve"], "--port"), (["up"], "--port"), (["up"], "--sim-port")],
    ids=["serve", "up gateway", "up simulator"],
)
def test_a_taken_port_is_one_line_and_exit_2(
    taken: int, tmp_path: Path, command: list[str], option: str
) -> None:
    other = "--sim-port" if option == "--port" and command == ["up"] else "--port"
    ports = [option, str(taken)] + ([other, str(free_port())] if command == ["up"] else [])
    done = run(*command, *ports, tmp_path=tmp_path)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert f"cannot listen on 127.0.0.1:{taken}" in lines[-1], done.stderr
    assert f"choose another port with {option}" in lines[-1]
