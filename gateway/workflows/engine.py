"""How a workflow's steps run: outcomes, the context a step sees, and the step loop.

A step is a plain async function of a :class:`StepContext` that makes at most one *write* to
Partner Center (using ``ctx.request_id``, stable across retries and restarts) and returns:

- :class:`Done` — its output is journaled and later steps see it in ``ctx.outputs``;
- :class:`Wait` — run this step again later (polling an order, an invitation nobody accepted yet,
  a 409 during renewal); with an ``action`` the operation shows ``action_required``;
- :class:`Fail` — the operation fails with a sentence a reseller can act on.

Partner Center's answers are mapped here once: a 409 waits ``renewal_retry_seconds``; no answer
(after the adapter's own retries) waits with back-off, then fails; any other 4xx fails with
Microsoft's code kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from gateway import messages
from gateway.cache import TtlCache
from gateway.clock import Clock
from gateway.journal import Journal, Operation, Status, Step, StepStatus
from gateway.settings import GatewaySettings
from gateway.upstream import PartnerCenter, PartnerCenterError, UpstreamError

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


StepFn = Callable[[StepContext], Awaitable[Outcome]]
Plan = list[tuple[str, StepFn]]


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


def _unavailable(ctx: StepContext, exc: UpstreamError) -> Outcome:
    if ctx.step.attempts >= ctx.settings.max_unavailable_attempts:
        upstream = exc if isinstance(exc, PartnerCenterError) else None
        return Fail(messages.for_reason("unavailable", attempts=ctx.step.attempts),
                    upstream=upstream, reason="unavailable")  # fmt: skip
    return Wait(min(2.0**ctx.step.attempts, 300.0), output={"lastError": str(exc)})


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
) -> None:
    """Run ``op`` from its first unfinished step until it waits, fails or succeeds."""
    outputs = {s.name: s.output for s in op.steps if s.status is StepStatus.SUCCEEDED}
    unsaved: list[Step] = []
    was = op.status
    for position, (name, fn) in enumerate(plan):
        step = op.step(name)
        if step is not None and step.status is StepStatus.SUCCEEDED:
            continue
        now = clock()
        if step is None:
            step = Step(name, position, StepStatus.RUNNING, str(uuid.uuid4()), 0, now)
            op.steps.append(step)
        step.status, step.attempts, step.error = StepStatus.RUNNING, step.attempts + 1, None
        await journal.save(op.id, [*unsaved, step])
        unsaved = []
        ctx = StepContext(op, step, outputs, pc, settings, caches, now)
        outcome = await _attempt(fn, ctx)
        now = clock()
        op.updated_at = now
        if isinstance(outcome, Done):
            step.status, step.finished_at, step.output = StepStatus.SUCCEEDED, now, outcome.output
            outputs[name] = outcome.output
            op.result.update(outcome.result)
            if outcome.secrets:
                op.secrets = {**(op.secrets or {}), **outcome.secrets}
            unsaved.append(step)
            if op.status is Status.ACTION_REQUIRED or outcome.result or outcome.secrets:
                op.status, op.action = Status.RUNNING, None
                await journal.save(op.id, unsaved, op)
                unsaved = []
            continue
        if isinstance(outcome, Wait):
            step.status = StepStatus.WAITING
            if outcome.output is not None:
                step.output = {**step.output, **outcome.output}
            op.status = Status.ACTION_REQUIRED if outcome.action else Status.RUNNING
            op.action = outcome.action
            op.run_after = now + timedelta(seconds=outcome.seconds)
            await journal.save(op.id, [step], op, release=True)
            log.info("operation.waiting", operation_id=op.id, step=name,
                     seconds=outcome.seconds, action=bool(outcome.action))  # fmt: skip
            return
        step.status, step.finished_at = StepStatus.FAILED, now
        step.error = error_view(step, outcome)
        op.status, op.error, op.action = Status.FAILED, step.error, None
        await journal.save(op.id, [step], op, release=True)
        log.info("operation.failed", operation_id=op.id, step=name,
                 code=step.error.get("partnerCenterCode"), message=outcome.message)  # fmt: skip
        return
    op.status, op.action, op.updated_at = Status.SUCCEEDED, None, clock()
    await journal.save(op.id, unsaved, op, release=True)
    log.info("operation.succeeded", operation_id=op.id, kind=op.kind, previously=was.value)
