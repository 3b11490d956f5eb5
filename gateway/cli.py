"""``pcgw``: the project's one command.

The simulator runs in its own process (``python -m simulator``): the gateway never imports the
simulator, and the two meet only over HTTP, exactly as they do in production and in tests.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated

import typer

#: Tells ``python -m simulator`` to name itself ``pcgw sim`` in its help (the simulator reads it;
#: the gateway does not import the simulator to share the constant).
PROG_NAME_VARIABLE = "PCSIM_PROG_NAME"

cli = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Partner Center gateway and simulator."
)


@cli.command(
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    },
    add_help_option=False,
)
def sim(ctx: typer.Context) -> None:
    """Serve the Partner Center simulator (see `pcgw sim --help`)."""
    args = [sys.executable, "-m", "simulator", *ctx.args]
    env = {**os.environ, PROG_NAME_VARIABLE: "pcgw sim"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, args, env)


@cli.callback()
def _root() -> None:
    """Partner Center gateway and simulator."""


Host = Annotated[str, typer.Option(help="Address to listen on.", envvar="PCGW_HOST")]
Port = Annotated[int, typer.Option(help="Port to listen on.", envvar="PCGW_PORT")]
Database = Annotated[
    str, typer.Option(help="sqlite:///FILE (default) or postgresql://…", envvar="PCGW_DATABASE_URL")
]
LogLevel = Annotated[str, typer.Option(help="debug, info, warning or error.")]


def _serve(settings: object, log_level: str) -> None:
    from aiohttp import web

    from gateway import logging as gw_logging
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    assert isinstance(settings, GatewaySettings)
    gw_logging.configure(log_level)
    typer.echo(
        f"gateway on http://{settings.host}:{settings.port} → Partner Center at {settings.pc_base_url}",
        err=True,
    )
    web.run_app(
        create_app(settings), host=settings.host, port=settings.port, print=None, access_log=None
    )


@cli.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8080,
    database_url: Database = "sqlite:///pcgw.db",
    log_level: LogLevel = "info",
) -> None:
    """Serve the gateway. Partner Center credentials come from PCGW_PC_TENANT_ID,
    PCGW_PC_CLIENT_ID and PCGW_PC_CLIENT_SECRET (never from the command line)."""
    from gateway.settings import GatewaySettings

    settings = GatewaySettings.from_env(host=host, port=port, database_url=database_url)
    if not (
        settings.pc_tenant_id
        and settings.pc_client_id
        and settings.pc_client_secret.get_secret_value()
    ):
        typer.echo("error: set PCGW_PC_TENANT_ID, PCGW_PC_CLIENT_ID and PCGW_PC_CLIENT_SECRET "
                   "(or run `pcgw up` to try the gateway against the simulator)", err=True)  # fmt: skip
        raise typer.Exit(2)
    _serve(settings, log_level)


#: The simulator's seeded indirect provider, which `pcgw up` signs in as.
SIM_PROVIDER = {
    "pc_tenant_id": "4c2b1f3e-7d6a-4e5b-9c8d-000000000001",
    "pc_client_id": "11111111-1111-4111-8111-111111111111",
    "pc_client_secret": "provider-secret",
}


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the simulator exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise SystemExit(f"the simulator did not answer at {url} within {seconds:.0f} s")


@cli.command()
def up(
    host: Host = "127.0.0.1",
    port: Port = 8080,
    sim_port: Annotated[int, typer.Option(help="Port for the simulator.")] = 8081,
    database_url: Database = "sqlite:///pcgw.db",
    log_level: LogLevel = "info",
) -> None:
    """Start the simulator and the gateway together, wired, signed in as the simulator's seeded
    indirect provider: the whole product on one machine, no Microsoft account needed."""
    from gateway.settings import GatewaySettings

    sim_url = f"http://127.0.0.1:{sim_port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(sim_port), "--log-level", "warning"],
        env={**os.environ, PROG_NAME_VARIABLE: "pcgw sim"},
    )
    try:
        _wait_for(f"{sim_url}/_sim/clock", process)
        typer.echo(f"simulator on {sim_url} (control plane: {sim_url}/_sim/state)", err=True)
        settings = GatewaySettings.from_env(
            host=host, port=port, database_url=database_url,
            pc_base_url=sim_url, pc_login_url=sim_url, **SIM_PROVIDER,
        )  # fmt: skip
        _serve(settings, log_level)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


db = typer.Typer(help="The gateway's journal database.", no_args_is_help=True)
cli.add_typer(db, name="db")


@db.command("upgrade")
def db_upgrade(database_url: Database = "sqlite:///pcgw.db") -> None:
    """Apply the journal's schema migrations (the gateway also does this at start)."""
    from adapters.storage import SqlJournal

    async def run() -> list[str]:
        journal = SqlJournal(database_url)
        try:
            return await journal.upgrade()
        finally:
            await journal.close()

    applied = asyncio.run(run())
    typer.echo("applied: " + ", ".join(applied) if applied else "already up to date")


cassettes = typer.Typer(
    help="Recorded Partner Center traffic (vcrpy cassettes).", no_args_is_help=True
)
cli.add_typer(cassettes, name="cassettes")


@cassettes.command("verify")
def cassettes_verify(
    against: Annotated[
        str,
        typer.Option(help="Base URL of a running simulator (it is reset before each cassette)."),
    ] = "http://127.0.0.1:8081",
    cassettes_dir: Annotated[
        Path, typer.Option("--cassettes", help="A cassette file, or a directory searched for them.")
    ] = Path("tests/cassettes"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    tenant_id: Annotated[
        str, typer.Option(help="Tenant to sign in to.", envvar="PCGW_PC_TENANT_ID")
    ] = SIM_PROVIDER["pc_tenant_id"],
    client_id: Annotated[
        str, typer.Option(help="Client id to sign in as.", envvar="PCGW_PC_CLIENT_ID")
    ] = SIM_PROVIDER["pc_client_id"],
    client_secret: Annotated[
        str,
        typer.Option(
            help="The real secret (cassettes hold none); default: the seeded provider's.",
            envvar="PCGW_PC_CLIENT_SECRET",
            show_default=False,
        ),
    ] = SIM_PROVIDER["pc_client_secret"],
    sim_config: Annotated[
        str | None,
        typer.Option(
            help="JSON for PUT /_sim/config after each reset, e.g. '{\"sandboxLimits\":true}'."
        ),
    ] = None,
    control_key: Annotated[
        str | None, typer.Option(help="X-Sim-Key for /_sim calls.", envvar="PCSIM_CONTROL_KEY")
    ] = None,
) -> None:
    """Replay every cassette's requests against a running simulator and report each response
    whose status, Partner Center error code or top-level fields differ from the recorded one.
    Exit status: 0 all match, 1 something differs, 2 the run could not be done."""
    import json

    from adapters.recording import fidelity

    credentials = fidelity.Credentials(tenant_id, client_id, client_secret)
    try:
        config = fidelity.parse_sim_config(sim_config)
        report = asyncio.run(
            fidelity.verify(cassettes_dir, against, credentials, config, control_key)
        )
    except fidelity.FidelityError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(report.as_json(), indent=2) if as_json else report.render())
    raise typer.Exit(0 if report.ok else 1)


def main() -> None:
    cli()
