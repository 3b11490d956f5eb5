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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from gateway import cli_ops, cli_sim
from gateway.cli_sim import PROG_NAME_VARIABLE, SIM_PROVIDER
from gateway.webhooks.cli import webhooks as webhooks_cli

if TYPE_CHECKING:
    from adapters.storage import SqlAccess
    from gateway.keys import KeyInfo
    from gateway.settings import GatewaySettings

T = TypeVar("T")

cli = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Partner Center gateway and simulator."
)
# `pcgw sim` (serve the simulator, or seed/advance/snapshot/restore a running one) and
# `pcgw ops` (a running gateway's operations): HTTP clients, in modules of their own.
cli.add_typer(cli_sim.sim, name="sim")
cli.add_typer(cli_ops.ops, name="ops")
cli.add_typer(webhooks_cli, name="webhooks")  # operation events to each marketplace


@cli.callback()
def _root() -> None:
    """Partner Center gateway and simulator."""


Host = Annotated[str, typer.Option(help="Address to listen on.", envvar="PCGW_HOST")]
Port = Annotated[int, typer.Option(help="Port to listen on.", envvar="PCGW_PORT")]
Database = Annotated[
    str, typer.Option(help="sqlite:///FILE (default) or postgresql://…", envvar="PCGW_DATABASE_URL")
]
LogLevel = Annotated[str, typer.Option(help="debug, info, warning or error.")]


def _settings(**overrides: object) -> GatewaySettings:
    """The settings from ``PCGW_*`` (and ``PCGW_*_FILE``) plus the options given, or exit 2
    with the variable and the problem named rather than a traceback."""
    from gateway.settings import GatewaySettings

    try:
        return GatewaySettings.from_env(**overrides)
    except ValueError as exc:  # SettingsError, or pydantic's ValidationError for a bad value
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost")


def _serve(settings: object, log_level: str) -> None:
    from aiohttp import web

    from gateway import logging as gw_logging
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    assert isinstance(settings, GatewaySettings)
    gw_logging.configure(log_level)
    typer.echo(
        f"gateway on http://{settings.host}:{settings.port} → Partner Center at "
        f"{settings.pc_base_url} (operations page: http://{settings.host}:{settings.port}/ui)",
        err=True,
    )
    if settings.auth == "off":
        typer.echo("auth off: no API key asked, every caller is the marketplace 'default' "
                   "(PCGW_AUTH=keys to require keys)", err=True)  # fmt: skip
    else:
        typer.echo("API keys required (Authorization: Bearer <key>); `pcgw keys create "
                   "<marketplace>` makes one", err=True)  # fmt: skip
    _port_free(settings.host, settings.port, "the gateway", "--port")
    # SIGTERM: the workers drain for the grace period, then open requests (a long-poll may
    # wait up to 30 s) get as long again before they are cut, so the process ends in bounded time.
    web.run_app(
        create_app(settings), host=settings.host, port=settings.port, print=None,
        access_log=None, shutdown_timeout=settings.shutdown_grace_seconds,
    )  # fmt: skip


@cli.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8080,
    database_url: Database = "sqlite:///pcgw.db",
    log_level: LogLevel = "info",
) -> None:
    """Serve the gateway. Partner Center credentials come from PCGW_PC_TENANT_ID,
    PCGW_PC_CLIENT_ID and PCGW_PC_CLIENT_SECRET (never from the command line); any PCGW_*
    variable may name a file instead, e.g. PCGW_PC_CLIENT_SECRET_FILE=/run/secrets/pc."""
    settings = _settings(host=host, port=port, database_url=database_url)
    if not (
        settings.pc_tenant_id
        and settings.pc_client_id
        and settings.pc_client_secret.get_secret_value()
    ):
        typer.echo("error: set PCGW_PC_TENANT_ID, PCGW_PC_CLIENT_ID and PCGW_PC_CLIENT_SECRET (or _FILE) "
                   "(or run `pcgw up` to try the gateway against the simulator)", err=True)  # fmt: skip
        raise typer.Exit(2)
    _serve(settings, log_level)


def _port_free(host: str, port: int, what: str, option: str) -> None:
    """Refuse at once, in one line, a port another process listens on: started anyway, the
    server would die in a traceback — and `pcgw up` would take the other process's answers for
    its own simulator's. Any other bind problem is left for the server to report."""
    import errno
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror:
        return
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return
            typer.echo(f"error: {what} cannot listen on {host}:{port}: something else does "
                       f"(another pcgw?); choose another port with {option}", err=True)  # fmt: skip
            raise typer.Exit(2) from None


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the simulator exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers (a control key or PCSIM_CONTROL=off refuse /_sim): it is up
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
    indirect provider: the whole product on one machine, no Microsoft account needed. On a
    loopback address the gateway asks for no API key (PCGW_AUTH=keys to make it ask)."""

    sim_url = f"http://127.0.0.1:{sim_port}"
    _port_free("127.0.0.1", sim_port, "the simulator", "--sim-port")
    _port_free(host, port, "the gateway", "--port")
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(sim_port), "--log-level", "warning"],
        env={**os.environ, PROG_NAME_VARIABLE: "pcgw sim"},
    )
    try:
        _wait_for(f"{sim_url}/_sim/clock", process)
        typer.echo(f"simulator on {sim_url} (dashboard: {sim_url}/_sim/ui)", err=True)
        chosen = "PCGW_AUTH" in os.environ or "PCGW_AUTH_FILE" in os.environ
        settings = _settings(
            host=host, port=port, database_url=database_url,
            pc_base_url=sim_url, pc_login_url=sim_url, **SIM_PROVIDER,
            auth=None if chosen or not _loopback(host) else "off",
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


keys = typer.Typer(
    help="Northbound API keys, one per marketplace, on the gateway's database (no server "
    "needed). A key's name is its marketplace: what it submits is the marketplace's alone.",
    no_args_is_help=True,
)
cli.add_typer(keys, name="keys")
KeyName = Annotated[str, typer.Argument(help="The marketplace, e.g. contoso-store.")]


def _on_keys(work: Callable[[SqlAccess, datetime], Awaitable[T]], database_url: str) -> T:
    """Run ``work`` on the database's key store (see ``gateway.cli_db``)."""
    from adapters.storage import SqlAccess
    from gateway.cli_db import on_database
    from gateway.keys import KeyRefused

    return on_database(
        database_url,
        lambda journal: work(SqlAccess(journal), datetime.now(UTC)),
        (KeyRefused,),
    )


@keys.command("create")
def keys_create(name: KeyName, database_url: Database = "sqlite:///pcgw.db") -> None:
    """Make the marketplace's key. The key is printed once, alone on stdout; only its hash
    is kept."""
    from gateway import keys as api_keys

    key = _on_keys(lambda store, now: api_keys.create(store, name, now), database_url)
    typer.echo(f"key for marketplace {name!r} (shown once; the gateway keeps only its hash):",
               err=True)  # fmt: skip
    typer.echo(key)


@keys.command("list")
def keys_list(
    database_url: Database = "sqlite:///pcgw.db",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the keys as a JSON array.")
    ] = False,
) -> None:
    """Every key: name, visible prefix, created, rotated, revoked (never a key or a hash)."""
    import json

    from rich import box
    from rich.console import Console
    from rich.table import Table

    async def listing(store: SqlAccess, now: datetime) -> list[KeyInfo]:
        return await store.list_keys()

    found = _on_keys(listing, database_url)
    rows = [
        {
            "name": k.name,
            "prefix": k.prefix,
            "createdAt": _when(k.created_at),
            "rotatedAt": _when(k.rotated_at),
            "revokedAt": _when(k.revoked_at),
            "previousValidUntil": _when(k.previous_until),
        }
        for k in found
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "prefix", "created (UTC)", "rotated", "revoked", "old key until",
                  box=box.SIMPLE_HEAD)  # fmt: skip
    for key in found:
        table.add_row(key.name, key.prefix, *(_minute(v) for v in (
            key.created_at, key.rotated_at, key.revoked_at, key.previous_until)))  # fmt: skip
    # Piped, rich would wrap at 80 columns and split a name; a terminal gets its own width.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def _minute(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else ""


def _when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


@keys.command("rotate")
def keys_rotate(
    name: KeyName,
    grace: Annotated[
        float,
        typer.Option(help="Seconds the old key keeps working (time to deploy the new one)."),
    ] = 0.0,
    database_url: Database = "sqlite:///pcgw.db",
) -> None:
    """A new secret for the marketplace, printed once; the old one stops working now (or
    after --grace). Also issues a revoked key afresh."""
    from gateway import keys as api_keys

    key = _on_keys(lambda store, now: api_keys.rotate(store, name, now, grace), database_url)
    after = f"in {grace:g} s" if grace > 0 else "now"
    typer.echo(f"new key for marketplace {name!r} (shown once); the old one stops working {after}:",
               err=True)  # fmt: skip
    typer.echo(key)


@keys.command("revoke")
def keys_revoke(name: KeyName, database_url: Database = "sqlite:///pcgw.db") -> None:
    """The marketplace's key stops working at once (its operations stay; `rotate` issues it a
    new key)."""
    from gateway import keys as api_keys

    _on_keys(lambda store, now: api_keys.revoke(store, name, now), database_url)
    typer.echo(f"revoked the key of marketplace {name!r}", err=True)


@keys.command("assign")
def keys_assign(
    name: KeyName,
    customer_ids: Annotated[list[str], typer.Argument(help="Partner Center customer ids.")],
    database_url: Database = "sqlite:///pcgw.db",
) -> None:
    """Give the marketplace customers the gateway did not create or find itself (served before
    the gateway): it may then read them, and their subscriptions no other marketplace holds."""
    from gateway import keys as api_keys

    added = _on_keys(lambda store, now: api_keys.assign(store, name, customer_ids), database_url)
    typer.echo(f"marketplace {name!r}: {len(added)} customer(s) added, "
               f"{len(customer_ids) - len(added)} it had already", err=True)  # fmt: skip


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
    sim_config: Annotated[
        str | None,
        typer.Option(
            help="JSON for PUT /_sim/config after each reset, e.g. '{\"sandboxLimits\":true}'."
        ),
    ] = None,
) -> None:
    """Replay every cassette's requests against a running simulator and report each response
    whose status, Partner Center error code or top-level fields differ from the recorded one.
    The client secret comes from PCGW_PC_CLIENT_SECRET or PCGW_PC_CLIENT_SECRET_FILE (default:
    the seeded provider's), the simulator's control key from PCSIM_CONTROL_KEY or
    PCSIM_CONTROL_KEY_FILE: secrets are never taken on the command line.
    Exit status: 0 all match, 1 something differs, 2 the run could not be done."""
    import json

    from adapters.recording import fidelity
    from gateway.settings import secret_from_env

    try:
        client_secret = secret_from_env("PCGW_PC_CLIENT_SECRET")
        control_key = secret_from_env("PCSIM_CONTROL_KEY")
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    credentials = fidelity.Credentials(
        tenant_id, client_id, client_secret or SIM_PROVIDER["pc_client_secret"]
    )
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
