"""The pytest plugin installed with the package (entry point ``pytest11``, name ``pcgw``).

Fixtures (all prefixed ``pcgw_``, so they never shadow a project's own):

- ``pcgw_simulator_settings`` (session): override to change the seed or the clock's start.
- ``pcgw_simulator`` (session): the simulator on ``127.0.0.1:<free port>`` in a thread of its own;
  ``.url`` and ``.control`` (the ``/_sim`` control plane).
- ``pcgw_world``: the control plane after ``POST /_sim/reset`` — a fresh default world per test.
- ``pcgw_clock``: ``advance("P8D")`` returns the events that fell due; ``now()``.
- ``pcgw_pc``: an ``aiohttp.ClientSession`` on the simulator, signed in as the seeded indirect
  provider (``Authorization: Bearer …`` on every call), in a fresh world.
- ``pcgw_recording`` / ``pcgw_cassette_dir``: override these to configure cassettes (extra keys to
  redact, Partner Center origins, where cassettes live).
- ``pcgw_cassette``: the active ``Tape`` for a test marked ``@pytest.mark.pcgw_cassette(name)``.

Option ``--record-mode={none,once,new_episodes,all,rewrite}``: ``none`` (the default) replays and
fails on any request the cassette does not hold.

The plugin is loaded by every pytest run in an environment that has the package, so it imports
vcrpy and the simulator only when a test asks for them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import aiohttp

    from adapters.recording.cassettes import Recording, Tape
    from adapters.recording.live import Control, LiveSimulator
    from simulator import SimulatorSettings

MARKER = "pcgw_cassette"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pcgw", "Partner Center simulator and cassettes (pcgw)")
    group.addoption(
        "--record-mode",
        action="store",
        default="none",
        choices=("none", "once", "new_episodes", "all", "rewrite"),
        help="cassettes: none = replay only, an unrecorded request fails (default); once = record "
        "missing cassettes; new_episodes = add new requests; all = record everything again; "
        "rewrite = delete each cassette used and record it afresh",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(name=None): run the test against a recorded cassette "
        "(<pcgw_cassette_dir>/<module>/<name or test name>.yaml), replayed unless --record-mode "
        "says otherwise",
    )


class Clock:
    """The simulator's clock, as a test moves it."""

    def __init__(self, control: Control) -> None:
        self._control = control

    def now(self) -> str:
        return self._control.now()

    def advance(self, by: str | None = None, *, to: str | None = None) -> list[dict[str, Any]]:
        return self._control.advance(by, to=to)


@pytest.fixture(scope="session")
def pcgw_simulator_settings() -> SimulatorSettings:
    """Override (session scope) to change the seed, the clock's start or the control key."""
    from simulator import SimulatorSettings

    return SimulatorSettings()


@pytest.fixture(scope="session")
def pcgw_simulator(pcgw_simulator_settings: SimulatorSettings) -> Iterator[LiveSimulator]:
    from adapters.recording.live import LiveSimulator

    with LiveSimulator(pcgw_simulator_settings) as simulator:
        yield simulator


@pytest.fixture
def pcgw_world(pcgw_simulator: LiveSimulator) -> Control:
    control = pcgw_simulator.control
    control.reset()
    return control


@pytest.fixture
def pcgw_clock(pcgw_world: Control) -> Clock:
    return Clock(pcgw_world)


@pytest.fixture
async def pcgw_pc(pcgw_world: Control) -> AsyncIterator[aiohttp.ClientSession]:
    import aiohttp

    from adapters.recording.live import PROVIDER

    session = aiohttp.ClientSession(base_url=pcgw_world.url + "/")
    try:
        form = {
            "grant_type": "client_credentials",
            "client_id": PROVIDER.client_id,
            "client_secret": PROVIDER.client_secret,
            "resource": "https://api.partnercenter.microsoft.com",
        }
        async with session.post(f"/{PROVIDER.tenant_id}/oauth2/token", data=form) as resp:
            answer = await resp.json()
            if resp.status != 200:
                raise AssertionError(f"sign-in as the seeded provider failed: {answer}")
        session.headers.update(
            {"Authorization": f"Bearer {answer['access_token']}", "Accept": "application/json"}
        )
        yield session
    finally:
        await session.close()


@pytest.fixture
def pcgw_recording(request: pytest.FixtureRequest) -> Recording:
    """Override to redact more keys or to name the Partner Center origins, e.g.
    ``return Recording(mode=request.config.getoption("--record-mode"), redact=("email",))``."""
    from adapters.recording.cassettes import Recording

    return Recording(mode=request.config.getoption("--record-mode"))


@pytest.fixture
def pcgw_cassette_dir(request: pytest.FixtureRequest) -> Path:
    """Where cassettes live: ``cassettes/`` beside the test module, unless overridden."""
    return Path(request.path).parent / "cassettes"


@pytest.fixture(autouse=True)
def pcgw_cassette(request: pytest.FixtureRequest) -> Iterator[Tape | None]:
    """The marked test, its fixtures included, against its cassette; None when not marked."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        yield None
        return
    from adapters.recording.cassettes import cassette

    name = marker.args[0] if marker.args else marker.kwargs.get("name", request.node.name)
    directory: Path = request.getfixturevalue("pcgw_cassette_dir")
    recording: Recording = request.getfixturevalue("pcgw_recording")
    path = directory / Path(request.path).stem / f"{_UNSAFE.sub('_', str(name))}.yaml"
    with cassette(path, recording) as tape:
        yield tape
