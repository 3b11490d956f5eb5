"""HTTP for the ``pcgw`` commands that drive a running server (``pcgw ops``, ``pcgw sim …``).

A command says what it calls (``Server``: the URL, the headers, and the sentences for a server
that is not there or refuses the credentials); every way a call can fail becomes ``Failed`` with
one line for the user and an exit status — 2 when the command could not be run at all (nothing
answers, the key is missing or wrong), 1 when the server refused what was asked — so no
traceback ever reaches the terminal. Secrets come from the environment, never from options.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer

T = TypeVar("T")

#: Long enough for a snapshot of a big world; a server that does not connect fails fast.
CONNECT_SECONDS = 5.0
READ_SECONDS = 300.0


class Failed(Exception):
    """What to tell the user, and the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            raise Failed(
                f"the server answered {self.status} with a body that is not JSON"
            ) from None


@dataclass(frozen=True)
class Server:
    """A server a command talks to. ``down``: the sentence when nothing answers at ``url``;
    ``unauthorized``: the one for a 401 (which credential to set)."""

    url: str
    down: str
    unauthorized: str
    headers: dict[str, str] = field(default_factory=dict)


def secret(name: str) -> str | None:
    """``$NAME`` or the content of ``$NAME_FILE`` (see ``gateway.settings.secret_from_env``);
    a broken setting is exit 2 naming the variable."""
    from gateway.settings import secret_from_env

    try:
        return secret_from_env(name)
    except ValueError as exc:
        raise Failed(str(exc), 2) from None


class Connection:
    """One keep-alive connection to ``server`` for the length of a command."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._session: Any = None

    async def __aenter__(self) -> Connection:
        import aiohttp

        if not self.server.url.startswith(("http://", "https://")):
            raise Failed(f"--url {self.server.url!r} must start with http:// or https://", 2)
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=CONNECT_SECONDS, sock_read=READ_SECONDS
            ),
            headers=self.server.headers,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """The answer, whatever its status; only "nothing answered" raises here."""
        import aiohttp

        url = self.server.url.rstrip("/") + path
        body: Any = io.BytesIO(data) if isinstance(data, bytes) else data  # streamed, not copied
        try:
            async with self._session.request(
                method, url, json=json_body, data=body, params=params, headers=headers
            ) as resp:
                body = await resp.read()
                return Answer(resp.status, body, dict(resp.headers))
        except (aiohttp.ClientConnectionError, TimeoutError, OSError):
            raise Failed(self.server.down, 2) from None
        except aiohttp.InvalidURL:
            raise Failed(f"--url {self.server.url!r} is not a URL", 2) from None


def run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a command's coroutine; a ``Failed`` is printed as ``error: …`` and exits."""
    try:
        return asyncio.run(work())
    except Failed as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(exc.code) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


def console(*, stderr: bool = False) -> Any:
    """A rich console; piped, it gets a wide line so a table is not wrapped mid-value."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 200)


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` to ``path`` through a temporary file beside it and a rename, owner-only (a
    snapshot holds the partners' secrets): an interrupted write leaves the old file whole."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise Failed(f"cannot write {path}: {exc.strerror or exc}", 2) from None
