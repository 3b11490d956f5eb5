"""Workers: one claimer takes due operations from the journal and runs each in its own task,
at most ``settings.workers`` at once.

A single claimer, not N polling workers: N idle workers woken together would all query the
journal for the same new operation (a thundering herd that queues N transactions on SQLite's
one writer). A new operation wakes the claimer at once; otherwise it looks for due work every
``poll`` seconds (operations waiting on Partner Center come due on their own). On PostgreSQL
the journal also wakes it when another replica adds work it has no free worker for
(``LISTEN/NOTIFY``), so replicas share a burst at once rather than a poll later.

A claim passes ``settings.max_operation_attempts``: an operation whose workers keep vanishing
mid-step is dead-lettered by the journal instead of being claimed for ever.

``stop()`` (SIGTERM) stops claiming at once and lets the running steps finish, up to
``settings.shutdown_grace_seconds``; no further step starts, and each operation is handed back
due (``engine.run_operation``). A step still running after the grace period is cancelled and its
lease ended there and then, so the next process or another replica resumes it at once rather
than a lease later. An operation left mid-step by a crash or a cancel resumes from that step with
the same ``MS-RequestId``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import datetime, timedelta

import structlog

from gateway.clock import Clock
from gateway.journal import Journal, Operation
from gateway.settings import GatewaySettings
from gateway.upstream import PartnerCenter
from gateway.workflows import plan_for
from gateway.workflows.engine import Caches, run_operation

log = structlog.get_logger("gateway.worker")
POLL = 0.5
#: How often a long-poll re-reads an operation that is not running in this process.
OTHERS_POLL = 0.5


class Workers:
    def __init__(
        self,
        journal: Journal,
        pc: PartnerCenter,
        settings: GatewaySettings,
        caches: Caches,
        clock: Clock,
    ) -> None:
        self._journal = journal
        self._pc = pc
        self._settings = settings
        self._caches = caches
        self._clock = clock
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.workers)
        self._full = False  # the claimer backed off because adopted operations fill the workers
        self._stopping = False
        self._claimer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        #: The operation each running task holds, to hand back what a shutdown cancels.
        self._held: dict[asyncio.Task[None], str] = {}
        self._watchers: dict[str, list[asyncio.Future[None]]] = {}
        #: Ids of the operations this process's workers hold now: their waiters need no re-read.
        self._here: set[str] = set()
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.poll = POLL
        #: Operations this process has run (to a wait or an end), for metrics and tests.
        self.ran = 0

    def start(self) -> None:
        self._claimer = asyncio.create_task(self._claim_loop(), name="claimer")
        self._listener = asyncio.create_task(self._journal.listen(self.wake), name="listener")

    def wake(self) -> None:
        self._wake.set()

    def lease_for_new(self, now: datetime) -> tuple[str, datetime] | None:
        """A lease to create a new operation with, when a worker is free to start it at once
        (no claim round trip, no wake-up delay); ``None`` when all are busy."""
        if self._stopping or self.busy >= self._settings.workers:
            return None
        return self.name, now + timedelta(seconds=self._settings.lease_seconds)

    def adopt(self, op: Operation) -> None:
        """Start an operation created with :meth:`lease_for_new`. It runs even if the workers
        filled up meanwhile (the bound is soft by the few created in that instant): leaving it
        would strand it until its lease ran out."""
        self._start(op)

    async def changed(self, op_id: str, seconds: float) -> None:
        """Return when this process next moves ``op_id`` on (waits, fails or succeeds), or after
        ``seconds``; after at most ``OTHERS_POLL`` when the operation is not running here (another
        replica may be moving it, and only a re-read shows that)."""
        if op_id not in self._here:
            seconds = min(seconds, OTHERS_POLL)
        waiter = asyncio.get_running_loop().create_future()
        self._watchers.setdefault(op_id, []).append(waiter)
        try:
            await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            pass
        finally:
            waiters = self._watchers.get(op_id, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._watchers.pop(op_id, None)

    def _notify(self, op_id: str) -> None:
        for waiter in self._watchers.pop(op_id, []):
            if not waiter.done():
                waiter.set_result(None)

    @property
    def busy(self) -> int:
        return len(self._running)

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming now; give running steps ``grace`` seconds (default: the setting), then
        cancel them and end their leases (see the module docstring). Calling it again is a
        no-op once the first call returned."""
        grace = self._settings.shutdown_grace_seconds if grace is None else grace
        if not self._stopping:
            log.info("workers.stopping", running=self.busy, grace=grace)
        self._stopping = True
        self._wake.set()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._claimer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._claimer
        if not self._running:
            return
        running = len(self._running)
        _, pending = await asyncio.wait(self._running, timeout=grace)
        cancelled = [self._held[task] for task in pending if task in self._held]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        now = self._clock()
        for op_id in cancelled:
            try:
                await self._journal.extend_lease(op_id, self.name, now)
            except Exception:  # the lease then runs out on its own, as after a crash
                log.warning("workers.lease_not_released", operation_id=op_id, exc_info=True)
        log.info("workers.stopped", finished=running - len(pending), cancelled=len(cancelled))

    async def run_once(self) -> bool:
        """Claim and run one due operation to its next wait or end; ``False`` if none was due."""
        op = await self._claim()
        if op is None:
            return False
        await self._run(op)
        return True

    async def _claim(self) -> Operation | None:
        return await self._journal.claim(
            self.name,
            self._clock(),
            self._settings.lease_seconds,
            self._settings.max_operation_attempts,
        )

    async def _run(self, op: Operation) -> None:
        structlog.contextvars.bind_contextvars(operation_id=op.id)
        self.ran += 1
        self._here.add(op.id)
        try:
            await run_operation(
                op,
                plan_for(op),
                journal=self._journal,
                pc=self._pc,
                settings=self._settings,
                caches=self._caches,
                clock=self._clock,
                worker=self.name,
                stopping=lambda: self._stopping,
            )
        except Exception:  # a bug in one operation must not stop the others
            log.exception("operation.crashed", operation_id=op.id)
        finally:
            structlog.contextvars.unbind_contextvars("operation_id")
            self._here.discard(op.id)
            self._notify(op.id)
        if not op.status.finished:
            # Due before the next poll (a short back-off, a 409 retry): wake the claimer then.
            delay = (op.run_after - self._clock()).total_seconds()
            if delay < self.poll:
                asyncio.get_running_loop().call_later(max(delay, 0.0) + 0.005, self.wake)

    async def _claim_loop(self) -> None:
        while not self._stopping:
            await self._slots.acquire()
            self._wake.clear()  # before the claim: a wake-up during it is not lost
            self._full = self.busy >= self._settings.workers  # adopted ones take the rest
            if self._full:
                self._slots.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll)
                continue
            try:
                op = await self._claim()
            except Exception:
                log.exception("worker.claim_failed")
                op = None
            if op is None:
                self._slots.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll)
                continue
            self._start(op, holding_slot=True)

    def _start(self, op: Operation, holding_slot: bool = False) -> None:
        task = asyncio.create_task(self._run(op), name=f"operation-{op.id}")
        self._running.add(task)
        self._held[task] = op.id
        if holding_slot:
            task.add_done_callback(self._finished)
        else:
            task.add_done_callback(self._adopted_finished)

    def _adopted_finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._held.pop(task, None)
        if self._full:  # a worker is free again for the claimer
            self.wake()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._held.pop(task, None)
        self._slots.release()
