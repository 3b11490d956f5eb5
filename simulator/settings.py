"""How a simulator is started: one object, filled from arguments or ``PCSIM_*`` variables.

Secrets (the control key) come from the environment or a file, never from the command line,
where every user of the machine can read them in the process list: ``PCSIM_CONTROL_KEY`` or
``PCSIM_CONTROL_KEY_FILE`` (the file's content, a trailing newline dropped, as Docker and
Kubernetes secrets are mounted).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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
    #: Off: ``/_sim`` (and anything later served under it) answers 404 in Partner Center's body,
    #: as if it did not exist — a simulator shared beyond its tests cannot be reset or faulted.
    control: bool = True
    #: Token lifetime in wall-clock seconds (tokens are not tied to the simulated clock, which
    #: tests move by months).
    token_lifetime: int = 3600
    #: Move the world out of the garbage collector's sight every second (``gc.freeze``). A big
    #: world is long-lived and acyclic, so full collections find nothing to free and only pause:
    #: at 100,000 subscriptions a checkout's p99 went from 31 ms to 290 ms with them. On for
    #: ``pcgw sim``; off in-process, where the host's collector is not ours to tune.
    freeze_gc: bool = False
    #: The HMAC-SHA256 key webhook deliveries are signed with (``simulator.webhooks``), unless a
    #: registration brings its own ``SigningSecret``; ``PCSIM_WEBHOOK_SECRET`` or ``_FILE``.
    webhook_secret: str = Field(default="pcsim-webhook-secret", min_length=8)

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
        key = secret_from_env("PCSIM_CONTROL_KEY")
        if key is not None:
            values["control_key"] = key
        if "PCSIM_CONTROL" in env:
            values["control"] = _switch("PCSIM_CONTROL", env["PCSIM_CONTROL"])
        webhook_secret = secret_from_env("PCSIM_WEBHOOK_SECRET")
        if webhook_secret is not None:
            values["webhook_secret"] = webhook_secret
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)


class SettingsError(ValueError):
    """A setting that cannot be read; the message names the variable and what is wrong."""


def secret_from_env(name: str) -> str | None:
    """``$NAME``, or the content of the file ``$NAME_FILE`` names (one trailing newline
    dropped); None when neither is set. Both set, a missing or unreadable file, or an empty
    one is an error: a secret silently empty would switch a guard off."""
    value, path = os.environ.get(name), os.environ.get(f"{name}_FILE")
    if path is None:
        return value
    if value is not None:
        raise SettingsError(f"{name} and {name}_FILE are both set; set one")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{name}_FILE: no file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{name}_FILE: cannot read {path} ({exc.__class__.__name__})") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise SettingsError(f"{name}_FILE: {path} is empty")
    return text


def _switch(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("on", "true", "1", "yes"):
        return True
    if lowered in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, not {value!r}")
