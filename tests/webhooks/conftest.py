"""Webhook tests: a real HTTP receiver (an aiohttp app on a loopback port) that records every
POST it gets and can be told to fail or to hold its answer; plus the simulator and gateways of
``tests.gateway.conftest`` on real ports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.gateway.conftest import gw, make_gateway, sim, sim_http, sim_url  # noqa: F401

#: A delivery taking longer than this means the feature is broken, not slow.
PATIENCE = 20.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers 200, or ``fail`` with 500 (``failures`` times), holding each answer while
    ``hold`` is clear."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    failures: int = 0
    hold: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __post_init__(self) -> None:
        self.hold.set()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = 500 if self.failures > 0 else 200
        if self.failures > 0:
            self.failures -= 1
        async with self._changed:
            self.received.append(Received(request.path, dict(request.headers), body, status))
            self._changed.notify_all()
        await self.hold.wait()
        return web.Response(status=status, text="ok" if status == 200 else "boom")

    async def wait_for(
        self, done: Callable[[list[Received]], bool], what: str = "the deliveries"
    ) -> list[Received]:
        """Wait until ``done(received)``; fails the test after ``PATIENCE`` seconds."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: done(self.received)), PATIENCE
                )
            except TimeoutError:
                raise AssertionError(f"never got {what}: {self.received}") from None
        return list(self.received)

    def json(self) -> list[Any]:
        return [r.json() for r in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", found.handle)
    runner = web.AppRunner(app, handler_cancellation=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    found.url = f"http://{host}:{port}/hooks"
    try:
        yield found
    finally:
        found.hold.set()
        await runner.cleanup()
