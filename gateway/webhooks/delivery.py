"""The loop that sends operation events to marketplaces: claim, POST signed, record the answer.

Each gateway process runs one. It claims due events from the outbox with a lease (on PostgreSQL
``FOR UPDATE SKIP LOCKED``: several replicas never send the same event at once), sends them
concurrently (never two of one operation: the store hands out an operation's next event only
once the one before it is settled, so they arrive in order), and records each answer:

- 2xx: delivered;
- anything else, or no answer within ``webhook_timeout_seconds``: tried again after
  ``webhook_retry_seconds``, doubling, at most ``webhook_retry_max_seconds``; after
  ``webhook_max_attempts`` attempts the event is ``failed`` (``pcgw webhooks show`` lists it).

At least once: a process that dies mid-send leaves the lease to run out, and the event goes again
with the same ``id``. A journal write that adds events wakes this process's loop at once; other
replicas' loops find them within ``POLL`` seconds. Redirects are not followed (a receiver that
moved is a configuration to fix, not a hop for a signed body to take).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import timedelta

import aiohttp
import structlog

from gateway.api.auth import IMPLICIT_OWNER
from gateway.clock import Clock
from gateway.settings import GatewaySettings
from gateway.webhooks.outbox import SIGNATURE_HEADER, Delivery, WebhookStore, sign

log = structlog.get_logger("gateway.webhooks")
#: Seconds between looks for due events when nothing woke the loop.
POLL = 1.0
#: Events claimed per round (sent concurrently).
BATCH = 32
#: Seconds between deletions of old delivered and failed events.
PRUNE_EVERY = 600.0


class Deliverer:
    def __init__(self, store: WebhookStore, settings: GatewaySettings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.poll = POLL
        #: Seconds a claim holds an event: one attempt's timeout and a margin.
        self.lease_seconds = settings.webhook_timeout_seconds * 2 + 5

    async def open(self) -> None:
        """Point the marketplace ``default`` at ``PCGW_WEBHOOK_URL`` when set (auth off), then
        start the loop."""
        url, secret = self._settings.webhook_url, self._settings.webhook_secret
        if url is not None and secret is not None:
            await self._store.set_endpoint(IMPLICIT_OWNER, url, secret.get_secret_value(),
                                           self._clock())  # fmt: skip
        self.start()

    def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._settings.webhook_timeout_seconds),
            connector=aiohttp.TCPConnector(limit=BATCH, limit_per_host=BATCH),
        )
        self._task = asyncio.create_task(self._loop(), name="webhook-delivery")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop now; an event mid-send keeps its lease and goes again later (same id)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run_once(self) -> int:
        """Claim and send one batch; how many were claimed."""
        batch = await self._store.claim(self.name, self._clock(), self.lease_seconds, BATCH)
        if batch:
            await asyncio.gather(*(self._send(event) for event in batch))
        return len(batch)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        pruned = loop.time()
        while True:
            self._wake.clear()  # before the claim: a wake-up during it is not lost
            try:
                sent = await self.run_once()
                if loop.time() - pruned > PRUNE_EVERY:
                    pruned = loop.time()
                    days = timedelta(days=self._settings.webhook_retention_days)
                    await self._store.prune(self._clock() - days)
            except Exception:  # a database hiccup: look again after the poll
                log.exception("webhooks.delivery_failed")
                sent = 0
            if sent == BATCH:
                continue  # more may be due right now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll)

    async def _send(self, event: Delivery) -> None:
        if event.url is None or event.secret is None:
            await self._store.give_up(event.id, self._clock(), None, "the endpoint was removed")
            return
        assert self._session is not None
        body = event.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "pcgw-webhooks/1",
            SIGNATURE_HEADER: sign(event.secret, int(self._clock().timestamp()), body),
            "Pcgw-Event-Id": event.id,
            "Pcgw-Event-Type": event.type,
        }
        status: int | None = None
        try:
            async with self._session.post(
                event.url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                status = resp.status
                await resp.content.read(4096)  # a receiver's body is not ours to hold
            error = "" if 200 <= status < 300 else f"answered HTTP {status}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            error = f"no answer: {exc.__class__.__name__} {exc}".strip()
        now = self._clock()
        if not error and status is not None:
            await self._store.delivered(event.id, now, status)
            return
        attempts = event.attempts + 1
        if attempts >= self._settings.webhook_max_attempts:
            log.warning("webhooks.gave_up", event_id=event.id, owner=event.owner, error=error)
            await self._store.give_up(event.id, now, status, error)
            return
        wait = min(
            self._settings.webhook_retry_seconds * 2 ** (attempts - 1),
            self._settings.webhook_retry_max_seconds,
        )
        log.info("webhooks.retry", event_id=event.id, attempt=attempts, seconds=wait, error=error)
        await self._store.retry_at(event.id, now, now + timedelta(seconds=wait), status, error)
        if wait < self.poll:  # due before the next look: wake the loop then
            asyncio.get_running_loop().call_later(wait + 0.005, self.wake)
