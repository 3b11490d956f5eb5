"""``python -m simulator`` and ``pcgw sim`` serve the simulator from a process of their own."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PCGW = (
    str(Path(sys.executable).with_name("pcgw"))
    if Path(sys.executable).with_name("pcgw").exists()
    else (shutil.which("pcgw") or "pcgw")
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_clock(
    port: int, proc: subprocess.Popen[bytes], deadline: float = 15.0
) -> dict[str, str]:
    """The clock, once the server answers; fails if the process dies or time runs out."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/clock", timeout=1) as r:
                return dict(json.loads(r.read()))
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    pytest.fail(f"no answer on port {port} within {deadline} s")


@pytest.fixture
def serve() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; each is terminated (then killed) at the end, whatever happens."""
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


def start(command: list[str], started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    started.append(proc)
    return proc


def test_python_m_simulator_serves_the_control_plane(
    serve: list[subprocess.Popen[bytes]],
) -> None:
    port = free_port()
    proc = start([sys.executable, "-m", "simulator", "--port", str(port)], serve)
    assert wait_for_clock(port, proc) == {"now": "2026-01-05T09:00:00Z"}


def test_pcgw_sim_serves_with_a_chosen_clock_start(serve: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    proc = start([PCGW, "sim", "--port", str(port), "--clock-start", "2027-03-01"], serve)
    assert wait_for_clock(port, proc) == {"now": "2027-03-01T00:00:00Z"}


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_pcgw_sim_help_names_itself_and_lists_the_options() -> None:
    result = run([PCGW, "sim", "--help"])
    assert result.returncode == 0, result.stderr
    assert "pcgw sim" in result.stdout
    assert "python -m simulator" not in result.stdout
    for option in ("--host", "--port", "--clock-start", "--seed", "--no-control"):
        assert option in result.stdout
    assert "--control-key" not in result.stdout  # secrets never on the command line


def test_python_m_simulator_help_names_itself() -> None:
    result = run([sys.executable, "-m", "simulator", "--help"])
    assert result.returncode == 0, result.stderr
    assert "python -m simulator" in result.stdout


def test_a_bad_log_level_is_refused_before_serving() -> None:
    result = run([sys.executable, "-m", "simulator", "--port", "1", "--log-level", "loud"])
    assert result.returncode == 2
    assert "log-level" in result.stderr
