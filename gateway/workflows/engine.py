"""How a workflow's steps run: outcomes, the context a step sees, and the step loop.

A step is a plain async function of a :class:`StepContext` that makes at most one *write* to
Partner Center (using ``ctx.request_id``, stable across retries and restarts) and returns:

- :class:`Done` — its output is journaled and later steps see it in ``ctx.outputs``;
- :class:`Wait` — run this step again later (polling an order, an invitation nobody accepted yet,
  a 409 during renewal); with an ``action`` the operation shows ``action_required``;
- :class:`Fail` — the operation fails with a sentence a reseller can act on.

Partner Center's answers are mapped here once: a 409 waits ``renewal_retry_seconds``; no answer,
a 5xx or a 429 (after the adapter's own retries) waits with back-off — never less than the
``Retry-After`` Microsoft asked for — then fails after ``max_unavailable_attempts``; any other
4xx fails with Microsoft's code kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from gateway import messages
from gateway.cache import TtlCache
from gateway.clock import Clock
from gateway.journal import Journal, Operation, Status, Step, StepStatus
from gateway.settings import GatewaySettings
from gateway.upstream import PartnerCenter, PartnerCenterError, Reply, UpstreamError

log = structlog.get_logger("gateway.worker")


@dataclass(slots=True)
class Done:
    output: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] | None = None


@dataclass(slots=True)
class Wait:
    seconds: float
    action: dict[str, Any] | None = None
    output: dict[str, Any] | None = None


@dataclass(slots=True)
class Fail:
    message: str
    upstream: PartnerCenterError | None = None
    reason: str | None = None


Outcome = Done | Wait | Fail


@dataclass(slots=True)
class Caches:
    catalog: TtlCache[Any]
    resellers: TtlCache[Any]


@dataclass(slots=True)
class StepContext:
    op: Operation
    step: Step
    outputs: dict[str, dict[str, Any]]
    pc: PartnerCenter
    settings: GatewaySettings
    caches: Caches
    now: datetime

    @property
    def request(self) -> dict[str, Any]:
        return self.op.request

    @property
    def request_id(self) -> str:
        return self.step.ms_request_id

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A Partner Center call carrying this step's ``MS-RequestId``; returns the JSON body."""
        reply = await self.pc.call(method, path, request_id=self.request_id, **kwargs)
        return reply.body


class Correlated:
    """Every call an operation makes carries the operation's id as ``MS-CorrelationId``, so
    Microsoft's support can find all of one purchase's calls from one id."""

    def __init__(self, pc: PartnerCenter, correlation_id: str) -> None:
        self._pc = pc
        self._correlation_id = correlation_id

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
    ) -> Reply:
        return await self._pc.call(
            method, path, body=body, params=params, headers=headers, request_id=request_id,
            correlation_id=correlation_id or self._correlation_id,
        )  # fmt: skip


StepFn = Callable[[StepContext], Awaitable[Outcome]]
Plan = list[tuple[str, StepFn]]

#: Steps that write to Partner Center. Only these are journaled *before* they run (their
#: ``MS-RequestId`` must survive a crash); a read-only step is journaled with the next write, and
#: after a crash it simply reads again.
WRITES: set[StepFn] = set()


def writes(fn: StepFn) -> StepFn:
    WRITES.add(fn)
    return fn


def error_view(step: Step | None, outcome: Fail) -> dict[str, Any]:
    view: dict[str, Any] = {"message": outcome.message, "step": step.name if step else None}
    if outcome.reason:
        view["reason"] = outcome.reason
    if outcome.upstream is not None:
        view.update(
            partnerCenterStatus=outcome.upstream.status,
            partnerCenterCode=outcome.upstream.code,
            partnerCenterDescription=outcome.upstream.description,
            msRequestId=outcome.upstream.ms_request_id,
        )
    return view


async def _attempt(fn: StepFn, ctx: StepContext) -> Outcome:
    settings = ctx.settings
    try:
        return await fn(ctx)
    except PartnerCenterError as exc:
        if exc.status == 409:
            return Wait(settings.renewal_retry_seconds, output={"lastConflict": exc.description})
        if not exc.retryable:
            return Fail(messages.for_upstream(exc), upstream=exc)
        return _unavailable(ctx, exc)
    except UpstreamError as exc:
        return _unavailable(ctx, exc)
    except Exception:  # a bug (an answer shaped unlike any we know): fail, don't loop forever
        log.exception("step.crashed", operation_id=ctx.op.id, step=ctx.step.name)
        return Fail(messages.for_reason("internal", operation_id=ctx.op.id), reason="internal")


def _unavailable(ctx: StepContext, exc: UpstreamError) -> Outcome:
    if ctx.step.attempts >= ctx.settings.max_unavailable_attempts:
        upstream = exc if isinstance(exc, PartnerCenterError) else None
        return Fail(messages.for_reason("unavailable", attempts=ctx.step.attempts),
                    upstream=upstream, reason="unavailable")  # fmt: skip
    wait = min(ctx.settings.unavailable_backoff_seconds * 2.0 ** (ctx.step.attempts - 1), 300.0)
    if isinstance(exc, PartnerCenterError) and exc.retry_after is not None:
        wait = max(wait, exc.retry_after)  # a Retry-After above the adapter's cap lands here
    return Wait(wait, output={"lastError": str(exc)})


async def run_operation(
    op: Operation,
    plan: Plan,
    *,
    journal: Journal,
    pc: PartnerCenter,
    settings: GatewaySettings,
    caches: Caches,
    clock: Clock,
    worker: str,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Run ``op`` from its first unfinished step until it waits, fails or succeeds, holding its
    lease all the while: a step may outlast one lease (Retry-After waits, retries, slow answers),
    and a lease that ran out would hand the operation to a second worker mid-step.

    Once ``stopping()`` (the process is shutting down) no further step starts: the operation is
    journaled as far as it got and handed back, due at once, so a shutdown waits for one step,
    not for the rest of a purchase."""
    keeper = asyncio.create_task(_keep_lease(journal, op.id, worker, settings, clock))
    try:
        await _run_steps(op, plan, journal=journal, pc=pc, settings=settings, caches=caches,
                         clock=clock, worker=worker, stopping=stopping)  # fmt: skip
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper


async def _keep_lease(
    journal: Journal, op_id: str, worker: str, settings: GatewaySettings, clock: Clock
) -> None:
    every = settings.lease_seconds / 3
    while True:
        await asyncio.sleep(every)
        until = clock() + timedelta(seconds=settings.lease_seconds)
        try:
            held = await journal.extend_lease(op_id, worker, until)
        except Exception:  # the step's own journal writes will surface a broken store
            log.warning("operation.lease_not_extended", operation_id=op_id, exc_info=True)
            continue
        if not held:
            log.warning("operation.lease_lost", operation_id=op_id, worker=worker)
            return


async def _run_steps(
    op: Operation,
    plan: Plan,
    *,
    journal: Journal,
    pc: PartnerCenter,
    settings: GatewaySettings,
    caches: Caches,
    clock: Clock,
    worker: str,
    stopping: Callable[[], bool],
) -> None:
    outputs = {s.name: s.output for s in op.steps if s.status is StepStatus.SUCCEEDED}
    unsaved: list[Step] = []  # finished steps not yet journaled: they ride on the next write
    dirty = False  # the operation changed since it was last journaled
    was = op.status
    for position, (name, fn) in enumerate(plan):
        step = op.step(name)
        if step is not None and step.status is StepStatus.SUCCEEDED:
            continue
        if stopping():
            await journal.save(op.id, unsaved, op, release=True)
            log.info("operation.handed_back", operation_id=op.id, step=name)
            return
        now = clock()
        if step is None:
            step = Step(name, position, StepStatus.RUNNING, str(uuid.uuid4()), 0, now)
            op.steps.append(step)
        step.status, step.attempts, step.error = StepStatus.RUNNING, step.attempts + 1, None
        if fn in WRITES:
            # Journaled, with its MS-RequestId, before the write goes out: one transaction that
            # also carries the steps finished since the last one.
            if op.status is Status.ACCEPTED:
                op.status, dirty = Status.RUNNING, True
            await journal.save(op.id, [*unsaved, step], op if dirty else None)
            unsaved, dirty = [], False
        ctx = StepContext(op, step, outputs, Correlated(pc, op.id), settings, caches, now)
        with structlog.contextvars.bound_contextvars(step=name):
            outcome = await _attempt(fn, ctx)
        now = clock()
        op.updated_at = now
        if isinstance(outcome, Done):
            step.status, step.finished_at, step.output = StepStatus.SUCCEEDED, now, outcome.output
            outputs[name] = outcome.output
            op.result.update(outcome.result)
            if outcome.secrets:
                op.secrets = {**(op.secrets or {}), **outcome.secrets}
            if op.status is Status.ACTION_REQUIRED:
                op.status, op.action, dirty = Status.RUNNING, None, True
            dirty = dirty or bool(outcome.result or outcome.secrets)
            unsaved.append(step)
            continue
        if isinstance(outcome, Wait):
            step.status = StepStatus.WAITING
            if outcome.output is not None:
                step.output = {**step.output, **outcome.output}
            op.status = Status.ACTION_REQUIRED if outcome.action else Status.RUNNING
            op.action = outcome.action
            op.run_after = now + timedelta(seconds=outcome.seconds)
            await journal.save(op.id, [*unsaved, step], op, release=True)
            log.info("operation.waiting", operation_id=op.id, step=name,
                     seconds=outcome.seconds, action=bool(outcome.action))  # fmt: skip
            return
        step.status, step.finished_at = StepStatus.FAILED, now
        step.error = error_view(step, outcome)
        op.status, op.error, op.action = Status.FAILED, step.error, None
        await journal.save(op.id, [*unsaved, step], op, release=True)
        log.info("operation.failed", operation_id=op.id, step=name,
                 code=step.error.get("partnerCenterCode"), message=outcome.message)  # fmt: skip
        return
    op.status, op.action, op.updated_at = Status.SUCCEEDED, None, clock()
    await journal.save(op.id, unsaved, op, release=True)
    log.info("operation.succeeded", operation_id=op.id, kind=op.kind, previously=was.value)
