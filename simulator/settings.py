"""How a simulator is started: one object, filled from arguments or ``PCSIM_*`` variables."""

from __future__ import annotations

import os
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from simulator.world import DEFAULT_START


class SimulatorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8081
    #: Where the clock starts after start or reset; fixed, so runs repeat.
    clock_start: AwareDatetime = DEFAULT_START
    #: Seeds every generated id; the same calls after a reset yield the same ids.
    seed: int = 0
    #: When set, ``/_sim`` calls need ``X-Sim-Key: <value>``.
    control_key: str | None = None
    #: Token lifetime in wall-clock seconds (tokens are not tied to the simulated clock, which
    #: tests move by months).
    token_lifetime: int = 3600
    #: Move the world out of the garbage collector's sight every second (``gc.freeze``). A big
    #: world is long-lived and acyclic, so full collections find nothing to free and only pause:
    #: at 100,000 subscriptions a checkout's p99 went from 31 ms to 290 ms with them. On for
    #: ``pcgw sim``; off in-process, where the host's collector is not ours to tune.
    freeze_gc: bool = False

    @classmethod
    def from_env(cls, **overrides: object) -> SimulatorSettings:
        values: dict[str, object] = {}
        env = os.environ
        if "PCSIM_HOST" in env:
            values["host"] = env["PCSIM_HOST"]
        if "PCSIM_PORT" in env:
            values["port"] = int(env["PCSIM_PORT"])
        if "PCSIM_CLOCK_START" in env:
            values["clock_start"] = datetime.fromisoformat(env["PCSIM_CLOCK_START"])
        if "PCSIM_SEED" in env:
            values["seed"] = int(env["PCSIM_SEED"])
        if "PCSIM_CONTROL_KEY" in env:
            values["control_key"] = env["PCSIM_CONTROL_KEY"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
