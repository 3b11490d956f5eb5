"""``python -m simulator`` (and ``pcgw sim``): serve the simulator on one port."""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from aiohttp import web

from simulator import logging as sim_logging
from simulator.app import create_app
from simulator.context import SIMULATOR
from simulator.settings import SimulatorSettings


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


cli = typer.Typer(add_completion=False, help="A stateful Partner Center simulator.")

#: Set by ``pcgw sim`` (see ``gateway.cli``), which also serves commands that drive a running
#: simulator; its help names them, ``python -m simulator`` has none.
PROG_NAME = os.environ.get("PCSIM_PROG_NAME") or None
COMMANDS = (
    "Commands for a running simulator (PCSIM_URL, default http://127.0.0.1:8081): "
    "pcgw sim seed, pcgw sim advance, pcgw sim snapshot, pcgw sim restore; "
    "see pcgw sim COMMAND --help."
)


@cli.command(epilog=COMMANDS if PROG_NAME == "pcgw sim" else None)
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on.", envvar="PCSIM_HOST")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", envvar="PCSIM_PORT")] = 8081,
    clock_start: Annotated[
        datetime | None,
        typer.Option(
            help="Where the simulated clock starts (UTC).",
            envvar="PCSIM_CLOCK_START",
            formats=["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for generated ids.", envvar="PCSIM_SEED")] = 0,
    control: Annotated[
        bool,
        typer.Option(
            "--control/--no-control",
            help="Serve the /_sim control plane; --no-control (or PCSIM_CONTROL=off) answers 404 "
            "there. A control key, required as X-Sim-Key, comes from PCSIM_CONTROL_KEY or the file "
            "named by PCSIM_CONTROL_KEY_FILE (never the command line).",
            envvar="PCSIM_CONTROL",
        ),
    ] = True,
    log_level: Annotated[
        LogLevel, typer.Option(help="How much to log.", case_sensitive=False)
    ] = LogLevel.info,
    access_log: Annotated[bool, typer.Option(help="Log one JSON line per request.")] = True,
    freeze_gc: Annotated[
        bool, typer.Option(help="Keep the world out of the garbage collector's full passes.")
    ] = True,
    state: Annotated[
        Path | None,
        typer.Option(
            help="Keep the world in FILE: loaded at start when it exists, saved there on "
            "shutdown (SIGTERM or Ctrl-C; written to a temporary file, then renamed).",
            envvar="PCSIM_STATE",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Serve Partner Center on HOST:PORT: sign-in at /{tenant}/oauth2/token, the API under /v1,
    the control plane under /_sim."""
    from datetime import UTC

    overrides: dict[str, object] = {
        "host": host,
        "port": port,
        "seed": seed,
        "control": control,
        "freeze_gc": freeze_gc,
    }
    if clock_start is not None:
        overrides["clock_start"] = clock_start.replace(tzinfo=clock_start.tzinfo or UTC)
    try:
        settings = SimulatorSettings.from_env(**overrides)
    except ValueError as exc:  # a secret file missing or empty, PCSIM_CONTROL neither on nor off
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    sim_logging.configure(log_level.value)
    app = create_app(settings)
    if state is not None:
        _keep_state(app, state)
    plane = (
        "control plane off"
        if not settings.control
        else "control plane /_sim, X-Sim-Key required"
        if settings.control_key
        else "control plane /_sim"
    )
    typer.echo(
        f"Partner Center simulator on http://{host}:{port} (clock starts {settings.clock_start:%Y-%m-%dT%H:%M:%SZ}; {plane}); "
        "sign in as client 11111111-1111-4111-8111-111111111111 / provider-secret",
        err=True,
    )
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        access_log_class=sim_logging.AccessLogger,
        access_log=None if not access_log else __import__("logging").getLogger("aiohttp.access"),
    )


def _keep_state(app: web.Application, path: Path) -> None:
    """Load the world from ``path`` now (a file that is refused stops the start: exit 1, the
    file untouched) and save it there once the server has stopped."""
    from simulator import snapshot
    from simulator.wire import iso

    if not path.parent.is_dir():
        typer.echo(f"error: --state {path}: there is no directory {path.parent}", err=True)
        raise typer.Exit(2)
    if path.exists():
        try:
            world = snapshot.read_file(path)
        except snapshot.SnapshotError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        snapshot.install(app[SIMULATOR], world)
        typer.echo(f"state: loaded {path} ({len(world.customers)} customers, "
                   f"{len(world.subscriptions)} subscriptions; clock at {iso(world.now)})",
                   err=True)  # fmt: skip
    else:
        typer.echo(f"state: {path} does not exist yet; the world is saved there on shutdown",
                   err=True)  # fmt: skip

    async def save(app: web.Application) -> None:
        try:
            size = snapshot.write_file(path, snapshot.save(app[SIMULATOR].world))
        except OSError as exc:
            typer.echo(f"error: could not save the world to {path}: {exc}", err=True)
        else:
            typer.echo(f"state: saved to {path} ({size:,} bytes)", err=True)

    app.on_cleanup.append(save)


def main() -> None:
    # ``pcgw sim`` execs this module and sets the variable, so help and usage say ``pcgw sim``.
    cli(prog_name=PROG_NAME)
