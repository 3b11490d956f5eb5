"""``pcgw sim seed|advance|snapshot|restore`` and ``pcgw sim --state FILE``, run as a user runs
them: the ``pcgw`` entry point in a subprocess against a ``pcgw sim`` process on a real port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.command import PCGW
from tests.gateway.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
START = "2026-01-05T09:00:00Z"


@dataclass
class SimProcess:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    key: str | None = None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """A control-plane call; the JSON answer (None for 204)."""
        request = urllib.request.Request(
            self.url + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **({"X-Sim-Key": self.key} if self.key else {})},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    def state(self) -> dict[str, Any]:
        return dict(self.call("GET", "/_sim/state"))

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


StartSim = Callable[..., SimProcess]


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator[StartSim]:
    """Starts ``pcgw sim`` processes on free ports; each is stopped at the end, whatever
    happened."""
    started: list[SimProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, key: str | None = None) -> SimProcess:
        port = free_port()
        log = tmp_path / f"sim-{len(started) + 1}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [PCGW, "sim", "--port", str(port), "--log-level", "warning", "--no-access-log",
                 *args],
                cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        sim = SimProcess(f"http://127.0.0.1:{port}", proc, log, key)
        started.append(sim)
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"pcgw sim exited {proc.returncode}: {log.read_text()}"
            try:
                sim.call("GET", "/_sim/clock")
            except urllib.error.HTTPError:
                return sim  # it answers (a control key refuses this probe): it is up
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "pcgw sim did not answer within 20 s"
                time.sleep(0.1)
            else:
                return sim

    try:
        yield start
    finally:
        for sim in started:
            if sim.proc.poll() is None:
                sim.proc.kill()
                sim.proc.wait(timeout=10)


def pcgw(*args: str, sim: SimProcess | None = None, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PCSIM_", "PCGW_"))}
    base.update(COLUMNS="200", TERM="dumb")  # help text unwrapped
    if sim is not None:
        base["PCSIM_URL"] = sim.url
    return subprocess.run(
        [PCGW, *args], cwd=ROOT, env={**base, **(env or {})}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def refused(result: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    """Exit ``code`` with one line on stderr that says ``message``; nothing on stdout."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert message in result.stderr, result.stderr
    assert result.stdout == ""


# -- seed --------------------------------------------------------------------------------------------


def test_seed_fills_the_simulator_with_a_progress_bar_and_puts_the_rate_limit_back(
    start_sim: StartSim,
) -> None:
    sim = start_sim()
    result = ok(pcgw("sim", "seed", "--customers", "6", "--subscriptions-per-customer", "3",
                     "--partners", "2", "--seats", "2", sim=sim))  # fmt: skip
    for bar in ("partners", "2/2", "customers", "6/6", "subscriptions", "18/18"):
        assert bar in result.stderr, result.stderr
    assert "6 customer(s) and 18 subscription(s)" in result.stdout

    state = sim.state()
    resellers = [p for p in state["partners"] if p["name"].startswith("Seed Reseller")]
    assert len(resellers) == 2
    provider = "4c2b1f3e-7d6a-4e5b-9c8d-000000000001"
    assert all(r["acceptedProviders"] == [provider] for r in resellers)
    assert len(state["customers"]) == 6
    assert all(set(c["partners"]) == {provider} for c in state["customers"])
    subs = state["subscriptions"]
    assert len(subs) == 18
    assert {s["quantity"] for s in subs} == {2}
    assert {s["status"] for s in subs} == {"active"}
    by_reseller = [s["partnerIdOnRecord"] for s in subs]
    assert sorted(set(by_reseller)) == sorted(r["mpnId"] for r in resellers)
    assert by_reseller.count(resellers[0]["mpnId"]) == 9  # customers spread over the resellers
    assert state["config"]["rateLimitPerMinute"] == 500


def test_seed_twice_with_one_prefix_says_to_pick_another(start_sim: StartSim) -> None:
    sim = start_sim()
    made = json.loads(ok(pcgw("sim", "seed", "--customers", "2", "--partners", "0", "--json",
                              sim=sim)).stdout)  # fmt: skip
    assert (len(made["customers"]), len(made["subscriptions"]), made["partners"]) == (2, 2, [])
    again = pcgw("sim", "seed", "--customers", "2", "--partners", "0", sim=sim)
    assert again.returncode == 1
    assert "seed again with another --prefix" in again.stderr
    ok(pcgw("sim", "seed", "--customers", "2", "--partners", "0", "--prefix", "more", sim=sim))
    assert len(sim.state()["customers"]) == 4


# -- advance ----------------------------------------------------------------------------------------


def test_advance_moves_the_clock_and_lists_what_happened(start_sim: StartSim) -> None:
    sim = start_sim()
    ok(pcgw("sim", "seed", "--customers", "2", sim=sim))
    moved = json.loads(ok(pcgw("sim", "advance", "8d", "--json", sim=sim)).stdout)
    assert set(moved) == {"now", "events"}  # the simulator's answer, as it is
    assert moved["now"] == "2026-01-13T09:00:00Z"
    assert [e["type"] for e in moved["events"]] == ["cancellationWindowClosed"] * 2
    assert sim.call("GET", "/_sim/clock") == {"now": "2026-01-13T09:00:00Z"}

    table = ok(pcgw("sim", "advance", "PT1H30M", sim=sim)).stdout
    assert "clock 2026-01-13T09:00:00Z → 2026-01-13T10:30:00Z: 0 event(s)" in table
    ok(pcgw("sim", "advance", "--to", "2027-01-04T12:00:00Z", sim=sim))
    renewals = ok(pcgw("sim", "advance", "1d", sim=sim)).stdout
    assert renewals.count("renewalCompleted") == 2
    refused(pcgw("sim", "advance", "7x", sim=sim), 2, "must be ISO 8601 (P7D, PT1H")
    refused(pcgw("sim", "advance", "P1M", sim=sim), 1, "years and months have no fixed length")
    assert sim.call("GET", "/_sim/clock") == {"now": "2027-01-05T12:00:00Z"}


# -- snapshot, restore, --state ---------------------------------------------------------------------


def test_snapshot_reset_restore_brings_the_world_back(start_sim: StartSim, tmp_path: Path) -> None:
    sim = start_sim()
    ok(pcgw("sim", "seed", "--customers", "3", "--subscriptions-per-customer", "2", sim=sim))
    ok(pcgw("sim", "advance", "3d", sim=sim))
    before = sim.state()
    file = tmp_path / "world.json"
    saved = ok(pcgw("sim", "snapshot", str(file), sim=sim)).stdout
    assert "3 customers, 6 subscriptions; clock at 2026-01-08T09:00:00Z" in saved
    assert file.stat().st_mode & 0o777 == 0o600  # it holds the partners' secrets
    assert json.loads(file.read_bytes())["version"] == 1

    sim.call("POST", "/_sim/reset")
    assert sim.state()["subscriptions"] == []
    ok(pcgw("sim", "restore", str(file), sim=sim))
    assert sim.state() == before
    # the restored world moves on: the windows of the seeded subscriptions close
    later = json.loads(ok(pcgw("sim", "advance", "5d", "--json", sim=sim)).stdout)
    assert [e["type"] for e in later["events"]] == ["cancellationWindowClosed"] * 6


def test_an_old_version_file_is_refused_and_the_world_is_untouched(
    start_sim: StartSim, tmp_path: Path
) -> None:
    sim = start_sim()
    ok(pcgw("sim", "seed", "--customers", "1", sim=sim))
    file = tmp_path / "world.json"
    ok(pcgw("sim", "snapshot", str(file), sim=sim))
    old = json.loads(file.read_bytes())
    old["version"] = 0
    file.write_text(json.dumps(old))
    sim.call("POST", "/_sim/reset")
    before = sim.state()
    message = ("snapshot version 0 is refused: this simulator reads version 1 only "
               "(the file was saved by an older simulator)")  # fmt: skip
    refused(pcgw("sim", "restore", str(file), sim=sim), 1, message)
    assert str(file) in pcgw("sim", "restore", str(file), sim=sim).stderr
    assert sim.state() == before

    # …and at start: the process ends with status 1 and leaves the file as it was
    kept = file.read_bytes()
    start = subprocess.run(
        [PCGW, "sim", "--port", str(free_port()), "--state", str(file)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert start.returncode == 1, start.stderr
    assert message in start.stderr
    assert "Traceback" not in start.stderr
    assert file.read_bytes() == kept


def test_state_file_keeps_the_world_across_a_restart(start_sim: StartSim, tmp_path: Path) -> None:
    file = tmp_path / "sim-state.json"
    first = start_sim("--state", str(file))
    assert "does not exist yet" in first.log.read_text()
    ok(pcgw("sim", "seed", "--customers", "4", "--subscriptions-per-customer", "2", sim=first))
    ok(pcgw("sim", "advance", "2d", sim=first))
    before = first.state()
    assert first.stop() == 0
    assert "state: saved to" in first.log.read_text()
    assert not list(tmp_path.glob(".sim-state.json.*"))  # the temporary file was renamed

    second = start_sim(env={"PCSIM_STATE": str(file)})  # the variable does what --state does
    assert "state: loaded" in second.log.read_text()
    assert second.state() == before
    assert len(second.state()["subscriptions"]) == 8
    # ids carry on where the first process stopped: a restored copy makes the same next ones
    third = start_sim()
    third.call("POST", "/_sim/snapshot", json.loads(file.read_bytes()))
    for sim in (second, third):
        ok(pcgw("sim", "seed", "--customers", "1", "--prefix", "after", sim=sim))
    assert second.state() == third.state()


# -- errors -----------------------------------------------------------------------------------------


def test_commands_without_a_simulator_say_so_in_one_line() -> None:
    nobody = {"PCSIM_URL": f"http://127.0.0.1:{free_port()}"}
    for args in (
        ["advance", "1d"],
        ["seed"],
        ["snapshot", "x.json"],
        ["restore", "pyproject.toml"],
    ):
        result = pcgw("sim", *args, env=nobody)
        refused(result, 2, f"error: no simulator at {nobody['PCSIM_URL']}: is `pcgw sim` running?")


def test_a_simulator_with_a_control_key_wants_it_from_the_environment(
    start_sim: StartSim, tmp_path: Path
) -> None:
    sim = start_sim(env={"PCSIM_CONTROL_KEY": "s3cret"}, key="s3cret")
    refused(pcgw("sim", "advance", "1d", sim=sim), 2,
            "wants its control key: set PCSIM_CONTROL_KEY (or PCSIM_CONTROL_KEY_FILE)")  # fmt: skip
    wrong = pcgw("sim", "advance", "1d", sim=sim, env={"PCSIM_CONTROL_KEY": "guess"})
    refused(wrong, 2, "refused the control key")
    key_file = tmp_path / "key"
    key_file.write_text("s3cret\n")
    ok(pcgw("sim", "advance", "1d", sim=sim, env={"PCSIM_CONTROL_KEY_FILE": str(key_file)}))
    assert sim.call("GET", "/_sim/clock") == {"now": "2026-01-06T09:00:00Z"}


def test_sim_help_names_the_commands_and_each_command_has_its_own() -> None:
    bare = ok(pcgw("sim", "--help")).stdout
    assert "--port" in bare  # the simulator's own options, as before
    assert "pcgw sim seed" in bare
    seed = ok(pcgw("sim", "seed", "--help")).stdout
    for option in ("--customers", "--subscriptions-per-customer", "--partners", "--url", "--json"):
        assert option in seed
    assert "--control-key" not in seed  # secrets never on the command line
