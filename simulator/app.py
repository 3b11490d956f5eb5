"""The simulator's aiohttp application: Partner Center under ``/v1``, sign-in, and ``/_sim``.

One middleware runs the whole ``/v1`` pipeline, in this order, so each step sees a request the
previous one accepted: injected faults (before anything else, so a fault changes nothing), the
bearer check, the per-partner rate limit, the ``MS-RequestId`` replay of a POST already answered,
then the handler. Every answer echoes ``MS-RequestId`` / ``MS-CorrelationId`` and lands in the
request journal (``GET /_sim/requests``). A replay is keyed on partner tenant, ``MS-RequestId``
and path, so a client that wrongly reuses one id for two different POSTs gets two real answers.

LIMITATIONS:
- A replay ignores the repeat's body (Microsoft's own matching is undocumented); two identical
  POSTs in flight at once are not coordinated (the second is not held until the first answers).
- A connection a fault dropped leaves no entry in the request journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import format_datetime

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from simulator import (
    agreements,
    auth,
    carts,
    catalog,
    control,
    customers,
    dashboard,
    legacy,
    migrations,
    orders,
    partners,
    subscriptions,
    transfers,
    transitions,
    webhooks,
)
from simulator import metrics as sim_metrics
from simulator.context import PARTNER, SIMULATOR, Simulator
from simulator.errors import PartnerCenterError
from simulator.faults import first_match
from simulator.settings import SimulatorSettings
from simulator.throttling import retry_after, throttled
from simulator.wire import respond
from simulator.world import RequestRecord, Stored

log = structlog.get_logger("simulator")

_REPLAYED_HEADERS = ("Location",)


#: Set on a request a ``resetAfter`` fault drops once it has been served.
_DROP_AFTER = web.RequestKey("drop_after", bool)


class _Dropped(web.Response):
    """Stands for a connection a fault dropped: aiohttp's write to the closed transport fails
    quietly, and the journal leaves it out (the client never saw an answer)."""

    def __init__(self) -> None:
        super().__init__(status=500)


def _new_id() -> str:
    """A random GUID-shaped id for a request that brought none (as Microsoft generates one):
    the same 122 random bits as ``uuid4`` at a fraction of its cost on the hottest path."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


_date_cache: tuple[datetime, str] | None = None


def _http_date(now: datetime) -> str:
    """The ``Date`` header in *simulated* time: a client that judges Microsoft's windows by
    Partner Center's clock (as the gateway does) then sees the time the simulator was moved to."""
    global _date_cache
    if _date_cache is None or _date_cache[0] != now:
        _date_cache = (now, format_datetime(now, usegmt=True))
    return _date_cache[1]


def _error_response(exc: PartnerCenterError) -> web.Response:
    return respond(exc.body(), status=exc.status)


def _http_error(exc: web.HTTPException, path: str) -> web.Response:
    """A route or method the simulator does not serve, in Partner Center's body."""
    description = (
        f"The resource {path} was not found." if exc.status == 404 else f"{exc.reason}: {path}"
    )
    code = 1000 if exc.status == 404 else 800002
    source = "Simulator" if path.startswith("/_sim") else "PartnerFD"
    body = PartnerCenterError(code, status=exc.status, description=description, source=source)
    response = _error_response(body)
    if exc.status == 405 and "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


async def _inject(request: web.Request, sim: Simulator) -> web.StreamResponse | None:
    """The answer of the first matching fault rule, or None to serve the call (after its
    latency; a ``resetAfter`` rule marks the request to be dropped once served)."""
    world = sim.world
    fault = first_match(world.faults, request.method, request.path)
    if fault is None:
        return None
    spec = fault.spec
    request.app[sim_metrics.METRICS].fault_fired(spec)
    if spec.latency_ms:
        await asyncio.sleep(spec.latency_ms / 1000)
    if spec.reset:
        if request.transport is not None:
            request.transport.abort()
        return _Dropped()
    if spec.reset_after:
        request[_DROP_AFTER] = True
        return None
    if spec.body is not None:
        return web.Response(
            body=(spec.body * spec.body_repeat).encode(),
            status=spec.status or 200,
            content_type="application/json",
        )
    if spec.status is None:
        return None
    if spec.status == 429:
        return throttled(spec.retry_after if spec.retry_after is not None else 1)
    error = PartnerCenterError(
        spec.code if spec.code is not None else 800003,
        status=spec.status,
        description=spec.description or f"Fault injected by the simulator (rule {fault.id}).",
    )
    response = _error_response(error)
    if spec.retry_after is not None:
        response.headers["Retry-After"] = str(spec.retry_after)
    return response


@web.middleware
async def pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim = request.app[SIMULATOR]
    world = sim.world
    headers = request.headers
    request_id = headers.get("MS-RequestId")
    correlation_id = headers.get("MS-CorrelationId") or _new_id()
    path = request.path
    stored_key: tuple[str, str, str] | None = None
    response: web.StreamResponse | None = None
    try:
        if path.startswith(("/v1/", "/webhooks/v1/")):  # Partner Center, webhooks included
            if world.faults:
                if request.can_read_body:
                    # The whole request has arrived before anything is done to it: a client that
                    # gives up during an injected delay leaves Partner Center a complete request.
                    await request.read()
                response = await _inject(request, sim)
            if response is None:
                partner = auth.authenticate(sim, headers.get("Authorization"))
                request[PARTNER] = partner
                wait = retry_after(
                    world.rate_windows, partner.tenant_id, world.config.rate_limit_per_minute
                )
                if wait is not None:
                    response = throttled(wait)
                    request.app[sim_metrics.METRICS].rate_limited += 1
                elif request.method == "POST" and request_id:
                    # Read the body first: from the stored-answer check to the handler's change
                    # there is then no point where a concurrent repeat could slip in.
                    await request.read()
                    stored_key = (partner.tenant_id, request_id, path)
                    stored = world.stored_answers.get(stored_key)
                    if stored is not None:
                        response = web.Response(
                            body=stored.body, status=stored.status, headers=stored.headers
                        )
                        stored_key = None
        elif path.startswith("/_sim"):
            control.check_key(request, sim)
        if response is None:
            response = await handler(request)
            if stored_key is not None and 200 <= response.status < 300:
                assert isinstance(response, web.Response)
                assert isinstance(response.body, bytes | bytearray | None)
                kept = {"Content-Type": response.content_type} if response.body else {}
                kept.update(
                    {h: response.headers[h] for h in _REPLAYED_HEADERS if h in response.headers}
                )
                world.stored_answers[stored_key] = Stored(
                    response.status,
                    bytes(response.body or b""),
                    kept,
                )
    except PartnerCenterError as exc:
        response = _error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _http_error(exc, path)
    except ConnectionError:
        raise  # the client went away; there is no one to answer
    except Exception:  # a bug must still answer in Partner Center's shape, and be logged
        log.exception("unhandled error", path=path, method=request.method)
        response = _error_response(PartnerCenterError(800003))
    # The hot path's one cost for metrics: a dict lookup and an increment (simulator.metrics).
    counts = request.app[sim_metrics.METRICS].requests
    key = (request.method, request.match_info.route.resource,
           sim_metrics.DROPPED if isinstance(response, _Dropped) else response.status)  # fmt: skip
    counts[key] = counts.get(key, 0) + 1
    response.headers["MS-RequestId"] = request_id or _new_id()
    response.headers["MS-CorrelationId"] = correlation_id
    response.headers["Date"] = _http_date(world.now)
    if not path.startswith("/_sim") and path != "/metrics" and not isinstance(response, _Dropped):
        world.requests.append(
            RequestRecord(
                request.method, path, response.status, request_id, correlation_id, world.now
            )
        )
        if request.get(_DROP_AFTER) and request.transport is not None:
            request.transport.abort()  # served and logged; the answer never reaches the client
            return _Dropped()
    return response


async def _freeze_gc(app: web.Application) -> AsyncIterator[None]:
    """See ``SimulatorSettings.freeze_gc``: freeze what exists now, then every second."""

    async def every_second() -> None:
        while True:
            gc.freeze()
            await asyncio.sleep(1.0)

    task = asyncio.create_task(every_second())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        gc.unfreeze()


def create_app(settings: SimulatorSettings | None = None) -> web.Application:
    """The simulator as an aiohttp app, for ``pcgw sim`` or in-process use in tests."""
    settings = settings or SimulatorSettings()
    app = web.Application(middlewares=[pipeline], client_max_size=4 * 1024 * 1024)
    app[SIMULATOR] = Simulator.start(settings)
    if settings.freeze_gc:
        app.cleanup_ctx.append(_freeze_gc)
    router = app.router
    # aiohttp tries the routes under one prefix in registration order: the hottest first.
    transitions.add_routes(router)
    subscriptions.add_routes(router)
    carts.add_routes(router)
    orders.add_routes(router)
    customers.add_routes(router)
    agreements.add_routes(router)
    transfers.add_routes(router)
    legacy.add_routes(router)
    migrations.add_routes(router)
    catalog.add_routes(router)
    partners.add_routes(router)
    control.add_routes(router)
    dashboard.add_routes(router)
    webhooks.add_routes(app)
    auth.add_routes(router)
    sim_metrics.install(app)  # GET /metrics
    return app
