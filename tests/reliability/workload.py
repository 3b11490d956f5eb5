"""The reliability mix, shared by the fault matrix, the crash tests and ``bench/soak.py``: what a
marketplace sends, the seeded faults Partner Center answers with, and the evidence gathered at
the end for :mod:`tests.reliability.invariants`.

Everything goes over plain HTTP to URLs (a gateway and a simulator in-process on loopback ports,
or ``pcgw serve`` / ``pcgw sim`` processes), so one driver serves every shape.

The mix is a set of *chains* run concurrently: a new-tenant purchase, then (by seeded draw)
nothing more, a seat change, a cancel inside the 168-hour window, a suspend followed by a
resume, or a seat change followed by a cancel, each submitted once the one before finished, on
the subscription the purchase bought.
The driver behaves like a careful marketplace: a submit that got no answer (the gateway died
under it) is sent again with the same ``Idempotency-Key`` until it is answered.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.reliability.invariants import Evidence

#: Partner Center paths of the writes that create things, and of the subscription PATCH.
CREATES = r"^/v1/customers$|/agreements$|/carts$|/checkout$"
SUBSCRIPTION = r"^/v1/customers/[^/]+/subscriptions/[^/]+$"
#: Microsoft's code for a change refused while the subscription's renewal is in progress.
RENEWAL_IN_PROGRESS = 800082
#: The simulator keeps this many calls in its request log.
REQUEST_LOG = 10_000
#: Operation statuses a marketplace stops waiting at (``action_required`` needs someone else).
SETTLED = ("succeeded", "failed", "action_required", "dead_letter")
PLAN = "Microsoft 365 Business Basic (NCE COM 1YR MTH)"


def fault_rules(
    seed: int, scale: float = 1.0, throttles: tuple[float, int | None] = (0.05, 4)
) -> list[dict[str, Any]]:
    """The seeded fault rules, in the order the simulator tries them (the first that fires
    wins). Each rule draws from its own generator, seeded from ``seed``; ``scale`` multiplies
    every probability. Writes that create things, subscription PATCHes and reads each meet a
    different set. ``throttles`` is the 429s' own probability and ``times``: a 429 pauses every
    call of the partner for its ``Retry-After`` (one second), so a long run wants them rare
    rather than few."""
    rng = random.Random(seed)

    def rule(probability: float, **spec: Any) -> dict[str, Any]:
        return {"probability": min(1.0, probability * scale), "seed": rng.randrange(2**31), **spec}

    chance, times = throttles
    throttle = {"probability": chance, "seed": rng.randrange(2**31), "method": "POST",
                "path": CREATES, "status": 429, "retryAfter": 1}  # fmt: skip
    return [
        {**throttle, "times": times} if times else throttle,
        rule(0.05, method="POST", path=CREATES, status=503),
        rule(0.04, method="POST", path=CREATES, status=500),
        rule(0.05, method="POST", path=CREATES, reset=True, latencyMs=20),
        rule(0.07, method="POST", path=CREATES, resetAfter=True),
        rule(0.10, method="PATCH", path=SUBSCRIPTION, status=409, code=RENEWAL_IN_PROGRESS,
             description="The subscription's renewal is in progress; try again later."),
        rule(0.05, method="PATCH", path=SUBSCRIPTION, status=503),
        rule(0.05, method="PATCH", path=SUBSCRIPTION, reset=True),
        rule(0.08, method="PATCH", path=SUBSCRIPTION, resetAfter=True),
        rule(0.04, method="GET", path=r"^/v1/customers/", status=500),
        rule(0.30, path=r"^/v1/customers", latencyMs=rng.choice((20, 40, 80))),
    ]  # fmt: skip


class SimControl:
    """The simulator's control plane over HTTP: faults, config, clock, the request log and
    the state dump."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.url = url.rstrip("/")

    async def control(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        async with self.http.request(method, f"{self.url}/_sim{path}", json=body) as resp:
            text = await resp.text()
            assert resp.status == status, f"{method} /_sim{path} -> {resp.status}: {text}"
            return await resp.json() if text else None

    async def add_fault(self, **spec: Any) -> str:
        return str((await self.control("POST", "/faults", spec, status=201))["id"])

    async def faults(self) -> list[dict[str, Any]]:
        return list((await self.control("GET", "/faults"))["items"])

    async def requests(self) -> list[dict[str, Any]]:
        """The ``/v1`` calls the simulator answered, oldest first."""
        items = (await self.control("GET", f"/requests?limit={REQUEST_LOG}"))["items"]
        return [r for r in reversed(items) if r["path"].startswith("/v1/")]

    async def state(self) -> dict[str, Any]:
        return dict(await self.control("GET", "/state"))


def purchase(prefix: str, quantity: int = 5) -> dict[str, Any]:
    """A new-tenant purchase of one Business Basic line, its domain made from ``prefix``."""
    return {
        "customer": {
            "newTenant": {
                "domainPrefix": prefix,
                "companyName": f"{prefix} Ltd",
                "address": {"line1": "1 Main St", "city": "Springfield", "state": "WA",
                            "postalCode": "98052", "country": "US"},
                "contact": {"firstName": "Jane", "lastName": "Doe", "email": "jane@example.com"},
            }
        },
        "mca": {"firstName": "Jane", "lastName": "Doe", "email": "jane@example.com",
                "acceptedOn": "2026-01-02"},
        "reseller": {"mpnId": "2000002", "domain": "fabrikamresellers.onmicrosoft.com"},
        "partnerOnRecordAttestation": True,
        "lines": [{"planCode": PLAN, "quantity": quantity}],
    }  # fmt: skip


#: What may follow a purchase on the subscription it bought, by seeded draw.
FOLLOW_UPS: tuple[tuple[str, ...], ...] = (
    (), ("change_seats",), ("cancel",), ("suspend", "resume"), ("change_seats", "cancel"),
)  # fmt: skip
CHANGE_PATHS = {"change_seats": "seats", "cancel": "cancel", "suspend": "suspend",
                "resume": "resume"}  # fmt: skip


def plan_chains(rng: random.Random, count: int) -> list[list[str]]:
    """``count`` chains: each a purchase and its follow-ups, by kind."""
    return [["purchase", *rng.choice(FOLLOW_UPS)] for _ in range(count)]


def change_body(kind: str, rng: random.Random, quantity: int) -> dict[str, Any]:
    if kind == "change_seats":
        return {"quantity": rng.choice([q for q in range(1, 12) if q != quantity])}
    if kind == "cancel":
        return {"reason": "Other", "comment": "reliability mix"}
    return {}


@dataclass
class Tally:
    """What the driver saw, for the soak's summary."""

    submitted: list[str] = field(default_factory=list)
    #: Submits sent again with their key after getting no answer (the gateway was down).
    resubmits: int = 0
    #: Operations by final status as the driver last saw them.
    statuses: dict[str, int] = field(default_factory=dict)


class Driver:
    """Submits chains to whichever gateway is up (``gateway_url()`` is read at every call, so
    a restarted gateway on a new port is found), waiting for each operation with the gateway's
    long-poll, and riding out a gateway that is down for as long as ``patience`` seconds."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        gateway_url: Callable[[], str],
        seed: int,
        tag: str,
        patience: float = 60.0,
    ) -> None:
        self.http = http
        self.gateway_url = gateway_url
        self.rng = random.Random(seed)
        self.tag = tag
        self.patience = patience
        self.tally = Tally()
        self._count = 0

    async def _retrying(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """One northbound call, sent again while the gateway gives no answer or answers 503."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.patience
        while True:
            try:
                async with self.http.request(method, self.gateway_url() + path, **kwargs) as resp:
                    body = await resp.json() if resp.content_type == "application/json" else None
                    if resp.status != 503:
                        return resp.status, body
            except (aiohttp.ClientError, TimeoutError):
                pass
            assert loop.time() < deadline, f"{method} {path}: no answer for {self.patience} s"
            if method == "POST":
                self.tally.resubmits += 1
            await asyncio.sleep(0.1)

    async def submit(self, path: str, body: dict[str, Any]) -> str:
        key = f"{self.tag}-{uuid.UUID(int=self.rng.getrandbits(128))}"
        status, answer = await self._retrying(
            "POST", path, json=body, headers={"Idempotency-Key": key}
        )
        assert status == 202, f"POST {path} -> {status}: {answer}"
        op_id = str(answer["id"])
        self.tally.submitted.append(op_id)
        return op_id

    async def settle(self, op_id: str) -> dict[str, Any]:
        """The operation once it is finished or needs an action, through restarts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.patience
        while True:
            status, op = await self._retrying("GET", f"/v1/operations/{op_id}?waitSeconds=5")
            assert status == 200, f"operation {op_id} -> {status}: {op}"
            if op["status"] in SETTLED:
                self.tally.statuses[op["status"]] = self.tally.statuses.get(op["status"], 0) + 1
                return dict(op)
            assert loop.time() < deadline, f"operation {op_id} still {op['status']}: {op}"

    async def chain(
        self, kinds: list[str], order: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """A purchase (``order``, or a new tenant's five seats), then each change in ``kinds``
        on the subscription it bought; returns each operation as it settled."""
        self._count += 1
        order = order or purchase(f"{self.tag}{self._count:05d}")
        bought = await self.settle(await self.submit("/v1/orders", order))
        settled = [bought]
        if bought["status"] != "succeeded":
            return settled
        customer = bought["result"]["customerId"]
        [subscription] = bought["result"]["subscriptionIds"]
        quantity = order["lines"][0]["quantity"]
        base = f"/v1/customers/{customer}/subscriptions/{subscription}"
        for kind in kinds[1:]:
            body = change_body(kind, self.rng, quantity)
            done = await self.settle(await self.submit(f"{base}/{CHANGE_PATHS[kind]}", body))
            settled.append(done)
            if done["status"] == "succeeded" and kind == "change_seats":
                quantity = body["quantity"]
        return settled

    async def run_until(self, deadline: float, concurrency: int) -> None:
        """Chains drawn from the mix, ``concurrency`` at a time, each started before
        ``deadline`` (the event loop's clock) and run to its end."""

        async def lane() -> None:
            loop = asyncio.get_running_loop()
            while loop.time() < deadline:
                await self.chain(["purchase", *self.rng.choice(FOLLOW_UPS)])

        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(lane())

    async def run(self, chains: list[list[str]], concurrency: int) -> None:
        """Every chain, at most ``concurrency`` at once."""
        gate = asyncio.Semaphore(concurrency)

        async def one(kinds: list[str]) -> None:
            async with gate:
                await self.chain(kinds)

        async with asyncio.TaskGroup() as group:
            for kinds in chains:
                group.create_task(one(kinds))


async def operations(http: aiohttp.ClientSession, gateway_url: str) -> list[dict[str, Any]]:
    """Every operation in the gateway's journal, page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        async with http.get(f"{gateway_url}/v1/operations", params=params) as resp:
            assert resp.status == 200, await resp.text()
            page = await resp.json()
        items += page["items"]
        cursor = page.get("nextCursor")
        if not cursor:
            return items


class RequestLog:
    """The simulator's request log kept whole across a run longer than its 10,000 calls:
    :meth:`poll` (often enough that fewer calls than that happen in between) appends what is
    new since the last poll, found after the last records already kept."""

    OVERLAP = 50

    def __init__(self, sim: SimControl) -> None:
        self.sim = sim
        self.records: list[dict[str, Any]] = []
        #: False once a poll came too late and calls may be missing.
        self.complete = True

    async def poll(self) -> None:
        items = await self.sim.requests()
        if len(items) >= REQUEST_LOG and not self.records:
            self.complete = False
        self.records += items[self._new_from(items) :]

    def _new_from(self, items: list[dict[str, Any]]) -> int:
        if not self.records:
            return 0
        tail = self.records[-self.OVERLAP :]
        for end in range(len(items), len(tail) - 1, -1):
            if items[end - len(tail) : end] == tail:
                return end
        self.complete = False  # the last records kept have left the simulator's log
        return 0


async def evidence(
    http: aiohttp.ClientSession,
    sim: SimControl,
    gateway_url: str,
    submitted: list[str],
    baseline: dict[str, Any] | None = None,
    log: RequestLog | None = None,
) -> Evidence:
    """Both sides of a run, read once everything settled; ``log`` is a request log kept over
    the run (by default the simulator's newest 10,000 calls are read now)."""
    if log is None:
        log = RequestLog(sim)
    await log.poll()
    return Evidence(
        submitted=list(submitted),
        operations=await operations(http, gateway_url),
        state=await sim.state(),
        requests=log.records,
        baseline=baseline,
        requests_complete=log.complete,
    )


async def fired(sim: SimControl) -> dict[str, int]:
    """Faults that fired, by kind (429, 5xx, 409, reset, resetAfter, latency)."""
    kinds: dict[str, int] = {}
    for fault in await sim.faults():
        if fault["reset"]:
            kind = "reset (before applied)"
        elif fault["resetAfter"]:
            kind = "resetAfter (after applied)"
        elif fault["status"]:
            kind = str(fault["status"])
        else:
            kind = "latency only"
        kinds[kind] = kinds.get(kind, 0) + fault["fired"]
    return kinds
