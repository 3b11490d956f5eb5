"""The CLI commands that work on the gateway's database directly (``pcgw keys``, ``pcgw
webhooks``): no server needed, the schema brought up to date first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from adapters.storage import SqlJournal

T = TypeVar("T")


def on_database(
    database_url: str,
    work: Callable[[SqlJournal], Awaitable[T]],
    refusals: tuple[type[Exception], ...],
) -> T:
    """Run ``work`` on the journal's database. One of ``refusals`` (a duplicate name, an unknown
    one) is printed as ``error: …`` with exit status 1; a database that cannot be opened with
    status 2, its URL shown without the password."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

    from adapters.storage import SqlJournal

    async def run() -> T:
        journal = SqlJournal(database_url)
        try:
            await journal.upgrade()
            return await work(journal)
        finally:
            await journal.close()

    try:
        return asyncio.run(run())
    except refusals as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except (ArgumentError, OperationalError) as exc:
        try:  # never print a password from the URL
            shown = make_url(database_url).render_as_string(hide_password=True)
        except ArgumentError:
            shown = "given"
        typer.echo(f"error: cannot use the database {shown}: {exc.args[0]}", err=True)
        raise typer.Exit(2) from None
