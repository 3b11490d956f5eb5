"""Simulated time and the queue of things that fall due.

The clock is frozen between advances, so a run repeats exactly. Rules never compute "what would
have happened by now" lazily: whatever changes with time (a renewal, an expiry, a window closing)
is scheduled here as a due event, and :meth:`SimClock.advance` runs them strictly in time order,
moving ``now`` to each event's instant first. A handler re-checks the world when it fires, so an
event made stale by a later change (auto-renew turned off, a subscription cancelled) does nothing.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

#: A handler runs at its instant and says what happened: ``[(type, resourceUri), …]``.
Handler = Callable[[], list[tuple[str, str]]]


@dataclass(slots=True, frozen=True)
class Event:
    """Something that happened while the clock moved; ``type`` is one of :data:`EVENT_TYPES`."""

    type: str
    at: datetime
    resource_uri: str


#: The closed list of event types ``POST /_sim/clock/advance`` reports.
EVENT_TYPES = (
    "orderCompleted",
    "cancellationWindowClosed",
    "renewalStarted",
    "renewalCompleted",
    "subscriptionExpired",
    "subscriptionDisabled",
    "subscriptionDeleted",
    "trialConverted",
    "transferExpired",
    "cartExpired",
)


class SimClock:
    """``now`` plus a heap of ``(at, seq, handler)``; ``seq`` keeps same-instant events in the
    order they were scheduled."""

    __slots__ = ("_due", "_seq", "now")

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._due: list[tuple[datetime, int, Handler]] = []
        self._seq = itertools.count()

    def schedule(self, at: datetime, handler: Handler) -> None:
        heapq.heappush(self._due, (at, next(self._seq), handler))

    @property
    def pending(self) -> int:
        return len(self._due)

    def advance(self, to: datetime) -> list[Event]:
        """Run everything due up to and including ``to``, then stop the clock at ``to``."""
        if to < self.now:
            raise ValueError("the clock cannot move backwards")
        happened: list[Event] = []
        due = self._due
        while due and due[0][0] <= to:
            at, _, handler = heapq.heappop(due)
            self.now = max(self.now, at)
            for kind, uri in handler():
                happened.append(Event(kind, self.now, uri))
        self.now = to
        return happened
