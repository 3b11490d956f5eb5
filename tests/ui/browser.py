"""Headless Chromium driven over the Chrome DevTools Protocol, with nothing but aiohttp.

Why not Playwright or Selenium: both bring a dependency and a browser download of their own;
Debian's ``chromium`` package plus a websocket is all a page test needs here — navigate, read
the DOM and click through ``Runtime.evaluate``, and take a PNG with ``Page.captureScreenshot``.

Every uncaught exception and console error of the page is kept in ``Page.errors``, so a test can
say that the page ran cleanly (a Content-Security-Policy refusal is one too); the network's
"failed to load" notes are not, since a page meets a 401 on purpose.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

#: Where Debian's package puts it; ``None`` when it is not installed (the tests then skip).
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "chromium is not installed (Debian: apt-get install chromium)"
#: How long a step may take before the test fails rather than hangs; never asserted.
PATIENCE = 20.0


class BrowserError(RuntimeError):
    """Chromium answered a command with an error, or did not start."""


class Page:
    """One tab, over its own DevTools websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self.errors: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
                continue
            method, params = data.get("method", ""), data.get("params", {})
            self._note(method, params)
            for waiter in self._events.pop(method, []):
                if not waiter.done():
                    waiter.set_result(params)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(BrowserError("the browser closed the connection"))

    def _note(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.errors.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(
                "console: "
                + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            if entry.get("source") == "network":
                return  # a 4xx the page asked for and handles (a missing key) is not a fault
            self.errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        await self._ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        answer = await asyncio.wait_for(future, PATIENCE)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return dict(answer.get("result", {}))

    def _expect(self, event: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._events.setdefault(event, []).append(future)
        return future

    async def start(self, width: int, height: int) -> None:
        for domain in ("Page", "Runtime", "Log"):
            await self.send(f"{domain}.enable")
        await self.resize(width, height)

    async def resize(self, width: int, height: int) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    async def goto(self, url: str) -> None:
        """Navigate and wait for the load event (scripts with ``defer`` have run by then)."""
        loaded = self._expect("Page.loadEventFired")
        answer = await self.send("Page.navigate", url=url)
        if answer.get("errorText"):
            raise BrowserError(f"navigating to {url}: {answer['errorText']}")
        await asyncio.wait_for(loaded, PATIENCE)

    async def evaluate(self, expression: str) -> Any:
        """The expression's value (awaited if it is a promise), as JSON."""
        answer = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            raise BrowserError(
                f"{expression!r}: {details.get('exception', {}).get('description') or details}"
            )
        return answer["result"].get("value")

    async def wait_for(self, expression: str, what: str) -> Any:
        """Poll until ``expression`` is truthy and return its value; ``what`` names the wait in
        the failure (a page that never gets there fails the test, it does not hang it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PATIENCE
        # an element found counts as true (it would come back as an empty, falsy object)
        probe = f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()"
        while True:
            value = await self.evaluate(probe)
            if value:
                return value
            if loop.time() > deadline:
                text = await self.evaluate("document.body ? document.body.innerText : ''")
                raise AssertionError(f"the page never showed {what}; it shows:\n{text[:3000]}")
            await asyncio.sleep(0.05)

    async def click(self, selector: str) -> None:
        """A real click event on the first element ``selector`` matches."""
        found = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return false; e.scrollIntoView(); e.click(); return true; })()"
        )
        if not found:
            raise AssertionError(f"nothing on the page matches {selector}")

    async def type_into(self, selector: str, text: str) -> None:
        await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            f" e.value = {json.dumps(text)}; e.dispatchEvent(new Event('input')); }})()"
        )

    async def screenshot(self, path: Path) -> None:
        """A PNG of the whole page, however long (the viewport grows to fit, then shrinks)."""
        metrics = await self.send("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        view = metrics["cssLayoutViewport"]
        width, height = int(view["clientWidth"]), int(size["height"]) + 1
        await self.resize(width, height)
        try:
            shot = await self.send(
                "Page.captureScreenshot", format="png", captureBeyondViewport=True
            )
        finally:
            await self.resize(width, int(view["clientHeight"]))
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))

    async def close(self) -> None:
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class Browser:
    """A Chromium process with its own throwaway profile, and the tabs opened in it."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        port: int,
        profile: tempfile.TemporaryDirectory[str],
    ) -> None:
        self.process, self.port, self._profile = process, port, profile
        self._session = aiohttp.ClientSession()
        self._browser_ws: aiohttp.ClientWebSocketResponse | None = None
        self._pages: list[Page] = []

    @classmethod
    async def launch(cls) -> Browser:
        if CHROMIUM is None:
            raise BrowserError(SKIP_REASON)
        profile = tempfile.TemporaryDirectory(prefix="pcgw-chromium-")
        log = Path(profile.name) / "chromium.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--mute-audio",
                f"--user-data-dir={profile.name}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "about:blank",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        active = Path(profile.name) / "DevToolsActivePort"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PATIENCE
        while not active.exists() or len(active.read_text().splitlines()) < 2:
            if process.returncode is not None or loop.time() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
                tail = log.read_text(errors="replace")[-2000:]
                profile.cleanup()
                raise BrowserError(f"chromium did not start (exit {process.returncode}):\n{tail}")
            await asyncio.sleep(0.05)
        port_line, path = active.read_text().splitlines()[:2]
        browser = cls(process, int(port_line), profile)
        browser._browser_ws = await browser._session.ws_connect(
            f"ws://127.0.0.1:{port_line}{path}", max_msg_size=0
        )
        return browser

    async def _browser_call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self._browser_ws is not None
        await self._browser_ws.send_str(json.dumps({"id": 1, "method": method, "params": params}))
        while True:
            message = await asyncio.wait_for(self._browser_ws.receive(), PATIENCE)
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise BrowserError(f"{method}: the browser closed the connection")
            data = json.loads(message.data)
            if data.get("id") == 1:
                if "error" in data:
                    raise BrowserError(f"{method}: {data['error']}")
                return dict(data["result"])

    async def new_page(self, width: int = 1280, height: int = 800) -> Page:
        target = await self._browser_call("Target.createTarget", url="about:blank")
        ws = await self._session.ws_connect(
            f"ws://127.0.0.1:{self.port}/devtools/page/{target['targetId']}", max_msg_size=0
        )
        page = Page(ws)
        self._pages.append(page)
        await page.start(width, height)
        return page

    async def close(self) -> None:
        for page in self._pages:
            with contextlib.suppress(Exception):
                await page.close()
        if self._browser_ws is not None:
            with contextlib.suppress(Exception):
                await self._browser_call("Browser.close")
            await self._browser_ws.close()
        await self._session.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._profile.cleanup()


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    started = await Browser.launch()
    try:
        yield started
    finally:
        await started.close()
