"""``pcgw``: the project's one command.

The simulator runs in its own process (``python -m simulator``): the gateway never imports the
simulator, and the two meet only over HTTP, exactly as they do in production and in tests.
"""

from __future__ import annotations

import os
import sys

import typer

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
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)


@cli.callback()
def _root() -> None:
    """Partner Center gateway and simulator."""


def main() -> None:
    cli()
