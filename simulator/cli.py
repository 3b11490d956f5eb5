"""``python -m simulator`` (and ``pcgw sim``): serve the simulator on one port."""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer
from aiohttp import web

from simulator import logging as sim_logging
from simulator.app import create_app
from simulator.settings import SimulatorSettings


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


cli = typer.Typer(add_completion=False, help="A stateful Partner Center simulator.")


@cli.command()
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
    control_key: Annotated[
        str | None,
        typer.Option(help="Require X-Sim-Key on /_sim calls.", envvar="PCSIM_CONTROL_KEY"),
    ] = None,
    log_level: Annotated[
        LogLevel, typer.Option(help="How much to log.", case_sensitive=False)
    ] = LogLevel.info,
    access_log: Annotated[bool, typer.Option(help="Log one JSON line per request.")] = True,
    freeze_gc: Annotated[
        bool, typer.Option(help="Keep the world out of the garbage collector's full passes.")
    ] = True,
) -> None:
    """Serve Partner Center on HOST:PORT: sign-in at /{tenant}/oauth2/token, the API under /v1,
    the control plane under /_sim."""
    from datetime import UTC

    overrides: dict[str, object] = {
        "host": host,
        "port": port,
        "seed": seed,
        "control_key": control_key,
        "freeze_gc": freeze_gc,
    }
    if clock_start is not None:
        overrides["clock_start"] = clock_start.replace(tzinfo=clock_start.tzinfo or UTC)
    settings = SimulatorSettings.model_validate(overrides)
    sim_logging.configure(log_level.value)
    typer.echo(
        f"Partner Center simulator on http://{host}:{port} (clock starts {settings.clock_start:%Y-%m-%dT%H:%M:%SZ}); "
        "sign in as client 11111111-1111-4111-8111-111111111111 / provider-secret",
        err=True,
    )
    web.run_app(
        create_app(settings),
        host=host,
        port=port,
        print=None,
        access_log_class=sim_logging.AccessLogger,
        access_log=None if not access_log else __import__("logging").getLogger("aiohttp.access"),
    )


def main() -> None:
    # ``pcgw sim`` execs this module and sets the variable, so help and usage say ``pcgw sim``.
    cli(prog_name=os.environ.get("PCSIM_PROG_NAME") or None)
