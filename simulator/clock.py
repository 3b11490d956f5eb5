"""Simulated time and the queue of things that fall due.

The clock is frozen between advances, so a run repeats exactly. Rules never compute "what would
have happened by now" lazily: whatever changes with time (a renewal, an expiry, a window closing)
is scheduled here as a due event, and :meth:`SimClock.advance` runs them strictly in time order,
moving ``now`` to each event's instant first. A handler re-checks the world when it fires, so an
event made stale by a later change (auto-renew turned off, a subscription cancelled) does nothing.

A due event is data as well as code: :func:`event` registers each handler factory under a
``kind``, and what is scheduled is a :class:`Due` — the kind, the arguments the factory was
given, and the handler it made. A snapshot (``simulator.snapshot``) saves the kind and the
arguments and, on load, calls the registered factory again; so an event's arguments must be
plain data (ids, instants, dates, JSON objects), and a kind, once saved in files, keeps its name.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

#: A handler runs at its instant and says what happened: ``[(type, resourceUri), …]``.
Handler = Callable[[], list[tuple[str, str]]]

W = TypeVar("W")
P = ParamSpec("P")


@dataclass(slots=True, frozen=True)
class Due:
    """A scheduled handler and how to make it again: ``KINDS[kind](world, *args)``."""

    kind: str
    args: tuple[Any, ...]
    fire: Handler


@dataclass(slots=True, frozen=True)
class Kind:
    """A registered event kind: ``factory`` is the undecorated function (its annotations say
    how the saved arguments read back), ``make`` the decorated one that schedules use."""

    factory: Callable[..., Handler]
    make: Callable[..., Due]


#: Every event kind, by name (filled as the modules that schedule events are imported).
KINDS: dict[str, Kind] = {}


def event(
    kind: str,
) -> Callable[[Callable[Concatenate[W, P], Handler]], Callable[Concatenate[W, P], Due]]:
    """Register a handler factory ``f(world, *args) -> Handler`` as the event kind ``kind``."""

    def register(factory: Callable[Concatenate[W, P], Handler]) -> Callable[Concatenate[W, P], Due]:
        def make(world: W, /, *args: P.args, **kwargs: P.kwargs) -> Due:
            if kwargs:
                raise TypeError(
                    f"event {kind}: arguments are saved in order; pass them by position"
                )
            return Due(kind, tuple(args), factory(world, *args, **kwargs))

        known = KINDS.get(kind)
        if known is not None and known.factory.__qualname__ != factory.__qualname__:
            raise ValueError(f"event kind {kind} is registered twice")
        KINDS[kind] = Kind(factory, make)
        return make

    return register


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
    """``now`` plus a heap of ``(at, seq, due)``; ``seq`` keeps same-instant events in the
    order they were scheduled."""

    __slots__ = ("_due", "_seq", "now")

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._due: list[tuple[datetime, int, Due]] = []
        self._seq = itertools.count()

    def schedule(self, at: datetime, due: Due) -> None:
        heapq.heappush(self._due, (at, next(self._seq), due))

    @property
    def pending(self) -> int:
        return len(self._due)

    def queued(self) -> list[tuple[datetime, Due]]:
        """Every event still due, in the order they will run."""
        return [(at, due) for at, _, due in sorted(self._due, key=lambda entry: entry[:2])]

    @classmethod
    def resume(cls, now: datetime, queued: Iterable[tuple[datetime, Due]]) -> SimClock:
        """A clock at ``now`` with ``queued`` due, in that order (as :meth:`queued` gave them)."""
        clock = cls(now)
        for at, due in queued:
            clock.schedule(at, due)
        return clock

    def advance(self, to: datetime) -> list[Event]:
        """Run everything due up to and including ``to``, then stop the clock at ``to``."""
        if to < self.now:
            raise ValueError("the clock cannot move backwards")
        happened: list[Event] = []
        due = self._due
        while due and due[0][0] <= to:
            at, _, entry = heapq.heappop(due)
            self.now = max(self.now, at)
            for kind, uri in entry.fire():
                happened.append(Event(kind, self.now, uri))
        self.now = to
        return happened
