"""``pcgw webhooks``: each marketplace's endpoint for operation events, on the gateway's database
(no server needed; a running gateway picks a change up at its next delivery)."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from adapters.storage import SqlAccess, SqlWebhooks

T = TypeVar("T")

webhooks = typer.Typer(
    help="Where each marketplace gets its operation events (signed POSTs, retried), on the "
    "gateway's database. With PCGW_AUTH=off the one marketplace is 'default'.",
    no_args_is_help=True,
)
Name = Annotated[
    str, typer.Argument(help="The marketplace (its API key's name), e.g. contoso-store.")
]
Database = Annotated[
    str, typer.Option(help="sqlite:///FILE (default) or postgresql://…", envvar="PCGW_DATABASE_URL")
]


def _on_store(
    work: Callable[[SqlWebhooks, SqlAccess, datetime], Awaitable[T]], database_url: str
) -> T:
    """Run ``work`` on the database's endpoint and key stores (see ``gateway.cli_db``)."""
    from adapters.storage import SqlAccess, SqlWebhooks
    from gateway.cli_db import on_database
    from gateway.webhooks.endpoints import EndpointRefused

    return on_database(
        database_url,
        lambda journal: work(SqlWebhooks(journal), SqlAccess(journal), datetime.now(UTC)),
        (EndpointRefused,),
    )


@webhooks.command("set")
def set_(
    name: Name,
    url: Annotated[str, typer.Argument(help="Where to POST the events (http:// or https://).")],
    keep_secret: Annotated[
        bool, typer.Option("--keep-secret", help="Change only the URL; the secret stays.")
    ] = False,
    database_url: Database = "sqlite:///pcgw.db",
) -> None:
    """Send the marketplace's operation events to URL. A new signing secret is made and printed
    once, alone on stdout (unless --keep-secret); the receiver checks each event's
    Pcgw-Signature with it."""
    from gateway.webhooks import endpoints

    secret = _on_store(
        lambda store, keys, now: endpoints.set_endpoint(
            store, keys, name, url, now, keep_secret=keep_secret
        ),
        database_url,
    )
    if secret is None:
        typer.echo(f"marketplace {name!r}: events now go to {url} (secret unchanged)", err=True)
        return
    typer.echo(f"marketplace {name!r}: events go to {url}, signed with this secret "
               "(shown once; give it to the receiver):", err=True)  # fmt: skip
    typer.echo(secret)


@webhooks.command("show")
def show(
    name: Name,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
    database_url: Database = "sqlite:///pcgw.db",
) -> None:
    """The marketplace's endpoint (never its secret), its events by status, and the recent ones
    not delivered: waiting for another attempt, or given up on."""
    from gateway.webhooks import endpoints

    shown: dict[str, Any] = _on_store(
        lambda store, keys, now: endpoints.show(store, name), database_url
    )
    if as_json:
        typer.echo(json.dumps(shown, indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    counts = shown["events"]
    console.print(f"marketplace {name}: {shown['url']}")
    console.print(f"events: {counts['delivered']} delivered, {counts['pending']} pending, "
                  f"{counts['failed']} failed")  # fmt: skip
    if not shown["undelivered"]:
        return
    table = Table("event", "type", "operation", "status", "attempts", "last answer", "next try",
                  title="not delivered (newest first)", box=box.SIMPLE_HEAD)  # fmt: skip
    for item in shown["undelivered"]:
        answer = item["lastError"] or (str(item["lastStatus"]) if item["lastStatus"] else "")
        table.add_row(item["id"], item["type"], item["operationId"], item["status"],
                      str(item["attempts"]), answer, item["nextAttemptAt"] or "")  # fmt: skip
    console.print(table)


@webhooks.command("remove")
def remove(name: Name, database_url: Database = "sqlite:///pcgw.db") -> None:
    """Stop sending the marketplace's events; those not yet delivered are marked failed."""
    from gateway.webhooks import endpoints

    _on_store(lambda store, keys, now: endpoints.remove(store, name, now), database_url)
    typer.echo(f"marketplace {name!r}: no more webhook events", err=True)
