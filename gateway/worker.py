"""Workers: tasks that claim due operations from the journal and run their steps.

A new operation wakes a worker at once; otherwise workers look for due work every
``POLL`` seconds (operations waiting on Partner Center come due on their own). Each worker
runs one operation at a time; ``settings.workers`` of them run concurrently in one process.
Stopping cancels nothing mid-step on purpose: ``stop()`` lets running steps finish, and an
operation left mid-step by a crash resumes from that step with the same ``MS-RequestId``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

import structlog

from gateway.clock import Clock
from gateway.journal import Journal
from gateway.settings import GatewaySettings
from gateway.upstream import PartnerCenter
from gateway.workflows import plan_for
from gateway.workflows.engine import Caches, run_operation

log = structlog.get_logger("gateway.worker")
POLL = 0.5


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
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.poll = POLL

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(i), name=f"worker-{i}")
            for i in range(self._settings.workers)
        ]

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace: float = 10.0) -> None:
        self._stopping = True
        self._wake.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_once(self) -> bool:
        """Claim and run one due operation; ``False`` when nothing was due."""
        op = await self._journal.claim(self.name, self._clock(), self._settings.lease_seconds)
        if op is None:
            return False
        structlog.contextvars.bind_contextvars(operation_id=op.id)
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
            )
        finally:
            structlog.contextvars.unbind_contextvars("operation_id")
        return True

    async def _loop(self, index: int) -> None:
        while not self._stopping:
            try:
                ran = await self.run_once()
            except Exception:  # a bug in one operation must not stop the worker
                log.exception("worker.error", worker=index)
                ran = False
            if ran:
                self._wake.set()  # there may be more; let the others look too
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll)
