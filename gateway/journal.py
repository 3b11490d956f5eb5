"""The operation journal: what the gateway promised, and how far it got.

An *operation* is one marketplace request (a purchase, a seat change, a cancel, …); its *steps*
are the Partner Center calls that carry it out, in order. The journal is the only state the
gateway keeps, and its rules are what make the gateway exactly-once:

- an operation is written, with its ``Idempotency-Key`` and the hash of its body, before the
  marketplace gets its 202; the same key with the same body finds the same operation;
- a step is written as ``running`` with its ``MS-RequestId`` *before* its call goes out, and its
  outcome is written before the next step starts; a step that was ``running`` when the gateway
  died runs again with the **same** ``MS-RequestId``, which Partner Center deduplicates;
- an operation is claimed with a lease before a worker runs it, so two workers never run the same
  operation at once; the worker extends the lease while it runs, and a lease that runs out (its
  worker died) frees the operation for another;
- every change of an operation's status is written, in the transaction that makes it, to the
  webhook outbox of its owner (when the owner has an endpoint), so no change a marketplace is
  told about is lost to a crash, and none is told that did not happen;
- an operation claimed ``max_operation_attempts`` times without a worker ever letting it go in
  order (a step that crashes the worker, a worker that keeps dying) is *dead-lettered*: it stops
  running and shows ``dead_letter`` until an operator retries it.

The protocol below is what a store must fill; ``adapters/storage`` has SQLite (the embedded
default) and PostgreSQL (several replicas on one database, woken by ``LISTEN/NOTIFY``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class Status(StrEnum):
    ACCEPTED = "accepted"
    RUNNING = "running"
    ACTION_REQUIRED = "action_required"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Claimed too often without ever being let go in order; waits for an operator's retry.
    DEAD_LETTER = "dead_letter"

    @property
    def finished(self) -> bool:
        """Nothing runs it any more (a dead-lettered operation only after an operator's retry)."""
        return self in (Status.SUCCEEDED, Status.FAILED, Status.DEAD_LETTER)


class StepStatus(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(slots=True)
class Step:
    name: str
    position: int
    status: StepStatus
    ms_request_id: str
    attempts: int
    started_at: datetime
    finished_at: datetime | None = None
    output: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None


@dataclass(slots=True)
class Operation:
    id: str
    kind: str
    status: Status
    owner: str
    idempotency_key: str
    body_hash: str
    request: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    run_after: datetime
    #: Claims since a worker last let the operation go in order (a wait, a failure, success).
    attempts: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    action: dict[str, Any] | None = None
    secrets: dict[str, Any] | None = None
    steps: list[Step] = field(default_factory=list)
    #: The status the journal holds, as last read or written (``None``: not known). A save
    #: whose status differs is a change of state: the journal writes it to the webhook outbox
    #: in the same transaction (``gateway.webhooks.outbox``).
    stored_status: Status | None = None

    def step(self, name: str) -> Step | None:
        for step in self.steps:
            if step.name == name:
                return step
        return None


@dataclass(slots=True, frozen=True)
class Page:
    items: list[Operation]
    next_cursor: str | None


class Journal(Protocol):
    """A durable store of operations and their steps."""

    async def create(
        self, operation: Operation, lease: tuple[str, datetime] | None = None
    ) -> tuple[Operation, bool]:
        """Insert, or find the operation with the same owner and idempotency key; the flag
        says whether this call created it. With ``lease`` (worker, until) a new operation is
        created already claimed, for a worker of this process to start at once."""

    async def get(
        self, operation_id: str, owner: str | None = None, *, take_secrets: bool = False
    ) -> Operation | None:
        """The operation and its steps. Its one-time secrets come back (and are erased) only
        with ``take_secrets``; otherwise ``secrets`` is ``{}`` when there are some to take."""

    async def list_operations(
        self,
        owner: str | None,
        status: str | None,
        kind: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page: ...

    async def claim(
        self, worker: str, now: datetime, lease_seconds: float, max_attempts: int | None = None
    ) -> Operation | None:
        """Lease one due, unfinished operation (``run_after <= now`` and no live lease). With
        ``max_attempts``, due operations already claimed that often are dead-lettered instead."""

    async def retry(
        self, operation_id: str, owner: str, now: datetime
    ) -> tuple[Operation | None, bool]:
        """Put a dead-lettered operation, or one that failed because Partner Center stayed
        unavailable, back to run from its first unfinished step (same ``MS-RequestId``s). Returns
        the operation (``None`` if unknown) and whether it was put back."""

    async def listen(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever another process (or this one) adds due work, until cancelled;
        returns at once on a store that cannot tell (then the claimer's poll finds the work)."""

    async def save(
        self,
        operation_id: str,
        steps: list[Step],
        operation: Operation | None = None,
        release: bool = False,
    ) -> None:
        """One transaction: upsert ``steps`` (a step about to call goes in here, with its
        ``MS-RequestId``, before the call), then write ``operation``'s status, result, error,
        action, secrets and ``run_after`` if given, and free its lease when ``release`` (which
        also zeroes its ``attempts``: it was let go in order)."""

    async def take_secrets(self, operation_id: str) -> dict[str, Any] | None:
        """Return and erase the operation's one-time secrets (a new tenant's credentials)."""

    async def extend_lease(self, operation_id: str, worker: str, until: datetime) -> bool:
        """Push ``worker``'s lease on the operation to ``until`` (a step can outlast one lease:
        retries honouring ``Retry-After``, slow answers); ``False`` when the lease is no longer
        this worker's."""

    async def release_all(self) -> int:
        """Free every lease (at start of a single-process gateway, every lease is stale)."""

    async def wake(self, keys: Sequence[str], now: datetime) -> list[str]:
        """Make due at ``now`` the unfinished, unleased operations waiting on one of ``keys``
        (what ``gateway.webhooks.outbox.waiting_on`` recorded; a key ending in ``*`` matches
        as a prefix), so a Partner Center event resumes them before their next poll; returns
        their ids. On PostgreSQL every replica's claimer is notified."""

    async def close(self) -> None: ...


DEAD_LETTER_REASON = "dead_letter"


def dead_letter_error(attempts: int) -> dict[str, Any]:
    """The error a dead-lettered operation shows (kept here, next to the rule that sets it)."""
    return {
        "message": f"The gateway stopped running this operation after {attempts} attempts that "
        "each ended with its worker gone mid-step; check the gateway's logs for the cause, then "
        "POST to this operation's /retry to run it again from where it stopped.",
        "reason": DEAD_LETTER_REASON,
    }
