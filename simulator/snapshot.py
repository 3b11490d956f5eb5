"""The simulator's world as a JSON document, and back: what ``--state FILE`` keeps across a
restart and ``GET``/``POST /_sim/snapshot`` hand out and take in.

``{"format": "pcgw-simulator-snapshot", "version": 1, "savedAt": …, "world": {…}}``. The world
part holds everything a partner would miss after a restart: the partners, customers (their
agreements, relationships and admin password), carts, orders, subscriptions with every field,
transfers, transitions, migrations, the partners' webhook registrations, the config, the clock
with every event still due (as its kind and arguments, see ``simulator.clock.event``), the id
generator's state (so the ids after a restore are the ones the saved world would have made
next), and the stored answers that replay a repeated ``MS-RequestId``. Records are written field
by field from their dataclasses and read back by their annotations, so a field added to a record
is saved without a change here. ``savedAt`` is the wall clock of the save; the rest of a saved
document is the same however many times it goes through save and restore.

Left out, because they belong to the running process and not to Partner Center's data: the
request journal, injected faults, the rate-limit windows and webhook deliveries (the test or
load that made them is still the one running: a restore keeps the running simulator's own), and
the render cache (derived, and keyed by what a restore may reuse: it starts empty). The derived
indexes (by MPN, client id, domain, customer) are rebuilt.

A snapshot is read whole before anything changes: another format, another version, or any field
that does not read back is refused with a message naming it (versions: both of them), and the
running world is left as it was. The file holds partner client secrets and customer admin
passwords, as the world does: it is written owner-only (0600).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import gc
import inspect
import json
import os
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from simulator import (
    carts,
    legacy,
    lifecycle,
    migrations,
    purchases,
    transfers,
    transitions,
    webhooks,
)
from simulator.clock import KINDS, Due, Kind, SimClock
from simulator.context import Simulator
from simulator.errors import PartnerCenterError
from simulator.models import Cart, Customer, Order, Partner, Subscription, Transfer
from simulator.wire import iso, parse_duration
from simulator.world import Config, Stored, World

FORMAT = "pcgw-simulator-snapshot"
#: Bump when a saved document would read back differently (a record's field renamed or retyped,
#: an event kind renamed); a document of another version is refused, never half-read.
VERSION = 1

#: World fields a snapshot leaves out; ``install`` keeps the running world's (the cache aside).
RUNTIME_ONLY = (
    "requests", "faults", "faults_added", "rate_windows", "webhook_deliveries", "render_cache",
)  # fmt: skip
#: World fields rebuilt from the records (``World.add_*``).
DERIVED = (
    "partners_by_mpn",
    "partners_by_client",
    "customers_by_domain",
    "subscriptions_by_customer",
    "orders_by_customer",
)

# The modules that schedule events: imported so every event kind is registered before a load.
_EVENT_MODULES = (carts, legacy, lifecycle, migrations, purchases, transfers)


class SnapshotError(ValueError):
    """A document that cannot be restored; the message says where and why."""


# -- writing -------------------------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _duration(delta: timedelta) -> str:
    """An exact ISO-8601 duration (microseconds kept), as ``parse_duration`` reads it back."""
    micros = delta // timedelta(microseconds=1)
    if micros < 0:
        raise ValueError(f"a negative duration cannot be saved: {delta}")
    seconds, fraction = divmod(micros, 1_000_000)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or fraction:
        clock += f"{seconds}.{fraction:06d}".rstrip("0").rstrip(".") + "S"
    text = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return text if text != "P" else "PT0S"


_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


_SCALARS = frozenset({str, int, float, bool, NoneType})


def _plain(value: Any) -> Any:
    """A record, or anything inside one, as JSON; an unknown type is a bug, not data. Exact
    types are looked up first: this runs once per field of every record in the world."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    names = _FIELDS.get(kind)
    if names is not None:
        return {key: _plain(getattr(value, name)) for name, key in names}
    if kind is list or kind is tuple:
        return [_plain(v) for v in value]
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return iso(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, str | int | float):  # subclasses (an enum's value, a bool is exact)
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        raise TypeError(f"cannot save a {kind.__name__} in a snapshot")
    _FIELDS[kind] = tuple((f.name, _camel(f.name)) for f in dataclasses.fields(value))
    return _plain(value)


def _event(at: datetime, due: Due) -> dict[str, Any]:
    return {"at": iso(at), "kind": due.kind, "args": [_plain(a) for a in due.args]}


def _stored(key: tuple[str, str, str], stored: Stored) -> dict[str, Any]:
    out: dict[str, Any] = {
        "partnerTenantId": key[0],
        "msRequestId": key[1],
        "path": key[2],
        "status": stored.status,
        "headers": dict(stored.headers),
    }
    try:
        out["body"] = stored.body.decode("utf-8")
    except UnicodeDecodeError:
        out["bodyBase64"] = base64.b64encode(stored.body).decode("ascii")
    return out


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while a snapshot is built or read: hundreds of thousands of new,
    acyclic objects would only set off full passes that free nothing (about half of a load's
    time at 10,000 subscriptions)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def save(world: World, saved_at: datetime | None = None) -> dict[str, Any]:
    """The world as a snapshot document (``saved_at``: the wall clock, by default now)."""
    with _collector_paused():
        return _save(world, saved_at)


def _save(world: World, saved_at: datetime | None) -> dict[str, Any]:
    version, state, gauss = world.rng.getstate()
    return {
        "format": FORMAT,
        "version": VERSION,
        "savedAt": iso(saved_at or datetime.now(UTC)),
        "world": {
            "now": iso(world.now),
            "config": _plain(world.config),
            "ids": {"version": version, "state": list(state), "gauss": gauss},
            "partners": [_plain(p) for p in world.partners.values()],
            "customers": [_plain(c) for c in world.customers.values()],
            "carts": [_plain(c) for c in world.carts.values()],
            "orders": [_plain(o) for o in world.orders.values()],
            "subscriptions": [_plain(s) for s in world.subscriptions.values()],
            "transfers": [_plain(t) for t in world.transfers.values()],
            "transitions": [_plain(t) for t in world.transitions],
            "migrations": [_plain(m) for m in world.migrations.values()],
            "events": [_event(at, due) for at, due in world.clock.queued()],
            "storedAnswers": [_stored(k, v) for k, v in world.stored_answers.items()],
            "webhookRegistrations": _plain(world.webhook_registrations),
        },
    }


def dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def write_file(path: Path, document: dict[str, Any]) -> int:
    """Write the document to ``path`` atomically (a temporary file beside it, then a rename):
    a crash mid-write leaves the previous file whole. Returns the size in bytes."""
    data = dumps(document)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return len(data)


# -- reading -------------------------------------------------------------------------------------


class _Bad(Exception):
    """A value that does not read back; the path is filled in on the way out."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []

    def under(self, part: str) -> _Bad:
        self.path.append(part)
        return self

    def where(self, root: str) -> str:
        out = root
        for part in reversed(self.path):
            out += part if part.startswith("[") else f".{part}"
        return out


Reader = Callable[[Any], Any]
_READERS: dict[Any, Reader] = {}


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)  # fmt: skip


def _scalar(kind: type, name: str) -> Reader:
    def read(value: Any) -> Any:
        if type(value) is not kind:
            if kind is float and type(value) is int:
                return float(value)
            raise _Bad(f"must be {name}, not {_kind_of(value)}")
        return value

    return read


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad(f"must be a string, not {_kind_of(value)}")
    return value


def _read_datetime(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(_as_str(value))
    except ValueError:
        raise _Bad(f"must be an ISO-8601 instant, not {value!r}") from None
    if moment.tzinfo is None:
        raise _Bad(f"must be an instant with its offset (…Z), not {value!r}")
    return moment.astimezone(UTC)


def _read_date(value: Any) -> date:
    try:
        return date.fromisoformat(_as_str(value))
    except ValueError:
        raise _Bad(f"must be a date (YYYY-MM-DD), not {value!r}") from None


def _read_duration(value: Any) -> timedelta:
    try:
        return parse_duration(_as_str(value), "duration")
    except PartnerCenterError:
        raise _Bad(f"must be an ISO-8601 duration such as PT6H, not {value!r}") from None


def _optional(inner: Reader) -> Reader:
    return lambda value: None if value is None else inner(value)


def _list(inner: Reader) -> Reader:
    def read(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise _Bad(f"must be an array, not {_kind_of(value)}")
        out = []
        for index, item in enumerate(value):
            try:
                out.append(inner(item))
            except _Bad as exc:
                raise exc.under(f"[{index}]") from None
        return out

    return read


def _tuple(inners: tuple[Reader, ...]) -> Reader:
    def read(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list) or len(value) != len(inners):
            raise _Bad(f"must be an array of {len(inners)}, not {value!r}")
        return tuple(inner(item) for inner, item in zip(inners, value, strict=True))

    return read


def _dict(inner: Reader) -> Reader:
    def read(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Bad(f"must be an object, not {_kind_of(value)}")
        out = {}
        for key, item in value.items():
            try:
                out[key] = inner(item)
            except _Bad as exc:
                raise exc.under(key) from None
        return out

    return read


def _record(kind: type) -> Reader:
    """A dataclass from its camelCase object: every key known, every field without a default
    present."""
    hints = get_type_hints(kind)
    fields = [
        (f.name, _camel(f.name), _reader(hints[f.name]),
         f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(kind)
    ]  # fmt: skip
    known = {key for _, key, _, _ in fields}

    def read(value: Any) -> Any:
        if not isinstance(value, dict):
            raise _Bad(f"must be an object, not {_kind_of(value)}")
        unknown = value.keys() - known
        if unknown:
            raise _Bad(f"has unknown field(s): {', '.join(sorted(unknown))}")
        values = {}
        for name, key, reader, required in fields:
            if key in value:
                try:
                    values[name] = reader(value[key])
                except _Bad as exc:
                    raise exc.under(key) from None
            elif required:
                raise _Bad(f"{key} is missing")
        return kind(**values)

    return read


def _reader(hint: Any) -> Reader:
    """How to read back a value annotated ``hint``, built once per annotation."""
    known = _READERS.get(hint)
    if known is not None:
        return known
    origin, args = get_origin(hint), get_args(hint)
    reader: Reader
    if hint is Any or hint is object:
        reader = _any
    elif origin in (Union, UnionType):
        others = [a for a in args if a is not NoneType]
        if len(others) != 1:
            raise TypeError(f"a snapshot cannot read back {hint}")
        reader = _optional(_reader(others[0]))
    elif hint in (str, int, float, bool):
        reader = _scalar(hint, {str: "a string", bool: "true or false"}.get(hint, "a number"))
    elif hint is datetime:
        reader = _read_datetime
    elif hint is date:
        reader = _read_date
    elif hint is timedelta:
        reader = _read_duration
    elif origin is list:
        reader = _list(_reader(args[0]))
    elif origin is tuple and args and args[-1] is not Ellipsis:
        reader = _tuple(tuple(_reader(a) for a in args))
    elif origin is dict and args[0] is str:
        reader = _dict(_reader(args[1]))
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        reader = _record(hint)
    else:
        raise TypeError(f"a snapshot cannot read back {hint}")
    _READERS[hint] = reader
    return reader


def _any(value: Any) -> Any:
    return value


def _field(world: dict[str, Any], key: str, reader: Reader) -> Any:
    try:
        return reader(world[key])
    except _Bad as exc:
        raise SnapshotError(f"{exc.where('world.' + key)} {exc.problem}") from None


def _rng(ids: Any) -> random.Random:
    if not isinstance(ids, dict) or set(ids) != {"version", "state", "gauss"}:
        raise SnapshotError("world.ids must be an object with version, state and gauss")
    state = ids["state"]
    if not isinstance(state, list) or not all(type(n) is int for n in state):
        raise SnapshotError("world.ids.state must be an array of integers")
    rng = random.Random()
    try:
        rng.setstate((ids["version"], tuple(state), ids["gauss"]))
    except (TypeError, ValueError, OverflowError) as exc:
        raise SnapshotError(f"world.ids is not a generator state: {exc}") from None
    return rng


_ARGUMENTS: dict[str, tuple[list[str], list[Reader]]] = {}


def _arguments(name: str, kind: Kind) -> tuple[list[str], list[Reader]]:
    """An event kind's argument names and readers, from its factory's signature (the world, its
    first parameter, is not saved)."""
    known = _ARGUMENTS.get(name)
    if known is None:
        params = list(inspect.signature(kind.factory).parameters)[1:]
        hints = get_type_hints(kind.factory)
        known = _ARGUMENTS[name] = (params, [_reader(hints[p]) for p in params])
    return known


def _events(world: World, entries: list[Any]) -> list[tuple[datetime, Due]]:
    out = []
    for index, entry in enumerate(entries):
        where = f"world.events[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"at", "kind", "args"}:
            raise SnapshotError(f"{where} must be an object with at, kind and args")
        kind = KINDS.get(entry["kind"]) if isinstance(entry["kind"], str) else None
        if kind is None:
            raise SnapshotError(f"{where}.kind {entry['kind']!r} is not an event kind this "
                                f"simulator knows ({', '.join(sorted(KINDS))})")  # fmt: skip
        params, readers = _arguments(entry["kind"], kind)
        args = entry["args"]
        if not isinstance(args, list) or len(args) != len(params):
            raise SnapshotError(f"{where}.args must be an array of {len(params)} "
                                f"({', '.join(params)})")  # fmt: skip
        try:
            at = _read_datetime(entry["at"])
            values = []
            for position, (reader, value) in enumerate(zip(readers, args, strict=True)):
                try:
                    values.append(reader(value))
                except _Bad as exc:
                    raise exc.under(f"args[{position}]") from None
        except _Bad as exc:
            raise SnapshotError(f"{exc.where(where)} {exc.problem}") from None
        out.append((at, kind.make(world, *values)))
    return out


def _stored_answers(entries: list[Any]) -> dict[tuple[str, str, str], Stored]:
    out: dict[tuple[str, str, str], Stored] = {}
    for index, entry in enumerate(entries):
        where = f"world.storedAnswers[{index}]"
        if not isinstance(entry, dict):
            raise SnapshotError(f"{where} must be an object")
        try:
            key = tuple(_as_str(entry.get(k)) for k in ("partnerTenantId", "msRequestId", "path"))
            status = _scalar(int, "a number")(entry.get("status"))
            headers = _dict(_as_str)(entry.get("headers"))
            if "body" in entry:
                body = _as_str(entry["body"]).encode("utf-8")
            else:
                body = base64.b64decode(_as_str(entry.get("bodyBase64")), validate=True)
        except _Bad as exc:
            raise SnapshotError(f"{exc.where(where)} {exc.problem}") from None
        except binascii.Error:
            raise SnapshotError(f"{where}.bodyBase64 is not base64") from None
        out[(key[0], key[1], key[2])] = Stored(status, body, headers)
    return out


WORLD_KEYS = (
    "now", "config", "ids", "partners", "customers", "carts", "orders", "subscriptions",
    "transfers", "transitions", "migrations", "events", "storedAnswers", "webhookRegistrations",
)  # fmt: skip


def check_header(document: Any) -> dict[str, Any]:
    """The document's world, once its format and version are this simulator's."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise SnapshotError(
            f"not a simulator snapshot: format is {found!r}, expected {FORMAT!r}"
            if found is not None
            else f'not a simulator snapshot: no "format": {FORMAT!r} at the top'
        )
    version = document.get("version")
    if version != VERSION:
        age = (
            "an older" if isinstance(version, int) and version < VERSION
            else "a newer" if isinstance(version, int) else "an unknown"
        )  # fmt: skip
        raise SnapshotError(
            f"snapshot version {version!r} is refused: this simulator reads version {VERSION} "
            f"only (the file was saved by {age} simulator)"
        )
    world = document.get("world")
    if not isinstance(world, dict):
        raise SnapshotError("world must be an object")
    unknown = set(world) - set(WORLD_KEYS)
    if unknown:
        raise SnapshotError(f"world has unknown field(s): {', '.join(sorted(unknown))}")
    missing = [key for key in WORLD_KEYS if key not in world]
    if missing:
        raise SnapshotError(f"world.{missing[0]} is missing")
    return world


def load(document: Any) -> World:
    """A new world from a snapshot document; nothing running is touched (see ``install``)."""
    with _collector_paused():
        return _load(document)


def _load(document: Any) -> World:
    raw = check_header(document)
    now = _field(raw, "now", _read_datetime)
    world = World(config=_field(raw, "config", _reader(Config)), clock=SimClock(now),
                  rng=_rng(raw["ids"]))  # fmt: skip
    for partner in _field(raw, "partners", _reader(list[Partner])):
        world.add_partner(partner)
    for customer in _field(raw, "customers", _reader(list[Customer])):
        world.add_customer(customer)
    world.carts = {c.id: c for c in _field(raw, "carts", _reader(list[Cart]))}
    for order in _field(raw, "orders", _reader(list[Order])):
        world.add_order(order)
    for sub in _field(raw, "subscriptions", _reader(list[Subscription])):
        world.add_subscription(sub)
    world.transfers = {t.id: t for t in _field(raw, "transfers", _reader(list[Transfer]))}
    world.transitions = _field(raw, "transitions", _reader(list[transitions.Transition]))
    world.migrations = {
        m.id: m for m in _field(raw, "migrations", _reader(list[migrations.Migration]))
    }
    world.clock = SimClock.resume(now, _events(world, _field(raw, "events", _list(_any))))
    world.stored_answers = _stored_answers(_field(raw, "storedAnswers", _list(_any)))
    world.webhook_registrations = _field(
        raw, "webhookRegistrations", _reader(dict[str, webhooks.Registration])
    )
    return world


def loads(data: bytes) -> World:
    """A new world from a snapshot's bytes (see ``load``)."""
    with _collector_paused():
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SnapshotError(f"the snapshot is not JSON ({exc})") from None
        return _load(document)


def read_file(path: Path) -> World:
    """The world saved in ``path``; any problem (unreadable, not JSON, refused) is a
    ``SnapshotError`` naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return loads(data)
    except SnapshotError as exc:
        raise SnapshotError(f"{path}: {exc}") from None


def install(sim: Simulator, world: World) -> None:
    """Make ``world`` the running one, keeping the running process's own records (request
    journal, faults, rate windows); the render cache starts empty."""
    old = sim.world
    for name in RUNTIME_ONLY:
        if name != "render_cache":
            setattr(world, name, getattr(old, name))
    sim.reset(world)
