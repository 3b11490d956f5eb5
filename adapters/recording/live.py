"""The simulator served from a thread of its own, for tests in any style.

Why a thread and not the test's event loop: a synchronous client (``requests``, the AutoRest
``partnercenterservices`` SDK) blocks the loop it is called from, so a simulator on that loop
would never answer; a server on its own loop answers sync and async tests alike, and one server
can serve a whole session (``Control.reset`` gives each test a fresh world).

``Control`` drives ``/_sim`` with the standard library, synchronously: a test calls it between
its own requests, never concurrently with them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from simulator import SimulatorSettings, create_app
from simulator.world import DEFAULT_PARTNERS


@dataclass(frozen=True, slots=True)
class Credentials:
    tenant_id: str
    client_id: str
    client_secret: str
    mpn_id: str


#: The seeded indirect provider, reseller and direct partner (present after start and reset).
PROVIDER, RESELLER, DIRECT = (
    Credentials(p.tenant_id, p.client_id, p.client_secret, p.mpn_id) for p in DEFAULT_PARTNERS
)


class SimulatorError(AssertionError):
    """A control-plane call answered something other than what the test expected."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {body}")
        self.status = status
        self.body = body


class Control:
    """The ``/_sim`` control plane of a running simulator."""

    def __init__(self, url: str, key: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._key = key
        self._timeout = timeout

    def call(self, method: str, path: str, body: Any = None, status: int | None = None) -> Any:
        """``/_sim{path}``; raises ``SimulatorError`` on an unexpected status (any 4xx/5xx when
        ``status`` is not given). Returns the JSON answer, or None when it is empty."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_sim{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self._key:
            request.add_header("X-Sim-Key", self._key)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as resp:
                got, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            got, raw = exc.code, exc.read()
        if (status is None and got >= 400) or (status is not None and got != status):
            raise SimulatorError(method, f"/_sim{path}", got, raw.decode(errors="replace"))
        return json.loads(raw) if raw else None

    def reset(self) -> None:
        self.call("POST", "/reset")

    def now(self) -> str:
        return str(self.call("GET", "/clock")["now"])

    def advance(self, by: str | None = None, *, to: str | None = None) -> list[dict[str, Any]]:
        """Move the clock (``by="P8D"`` or ``to="2027-01-02T00:00:00Z"``); returns the events
        that fell due on the way, in order."""
        body = {"by": by} if to is None else {"to": to}
        return list(self.call("POST", "/clock/advance", body)["events"])

    def config(self, **changes: Any) -> dict[str, Any]:
        """``PUT /_sim/config`` with camelCase keys (``renewalProcessing="PT1H"``)."""
        return dict(self.call("PUT", "/config", changes))

    def fault(self, **spec: Any) -> str:
        """Inject a fault (``method``, ``path`` regex, ``status``, ``times``, ``retryAfter``, …)."""
        return str(self.call("POST", "/faults", spec, status=201)["id"])

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def partner(self, **body: Any) -> dict[str, Any]:
        return dict(self.call("POST", "/partners", body, status=201))

    def tenant(self, **body: Any) -> dict[str, Any]:
        return dict(self.call("POST", "/tenants", body, status=201))

    def state(self) -> dict[str, Any]:
        return dict(self.call("GET", "/state"))

    def requests(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/requests?limit={limit}")["items"])


class LiveSimulator:
    """A simulator on ``127.0.0.1:<free port>``, served from a daemon thread's event loop."""

    def __init__(self, settings: SimulatorSettings | None = None) -> None:
        self._settings = settings or SimulatorSettings()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self.url = ""

    @property
    def control(self) -> Control:
        return Control(self.url, self._settings.control_key)

    def start(self) -> LiveSimulator:
        self._thread = threading.Thread(target=self._serve, name="pcgw-simulator", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError("the simulator did not start") from self._error
        if not self.url:
            raise RuntimeError("the simulator did not start within 30 s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._thread = self._loop = None

    def __enter__(self) -> LiveSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(create_app(self._settings), handler_cancellation=False)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host}:{port}"
            self._loop = loop
        except BaseException as exc:  # reported by start(), in the test's thread
            self._error = exc
            self._ready.set()
            loop.run_until_complete(runner.cleanup())
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
