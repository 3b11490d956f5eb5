"""Record and replay Partner Center traffic with vcrpy: one configuration for our contract tests
and for users' tests (the ``pcgw_cassette`` marker), so both match and redact the same way.

Invariants:
- Requests match on method + path + query + body, never on host or port: a simulator on a random
  port records what a gateway pointed at ``http://partner-center.invalid`` replays.
- Nothing secret reaches the file: the ``Authorization`` header, form and JSON keys that carry
  secrets (``client_secret``, ``access_token``, ``refresh_token``, ``password``, …) and every key
  the user names are replaced with ``<redacted>`` in requests and answers. Replaced, not removed:
  a replayed sign-in answer must still parse as a token.
- Nor does it reach a log: vcrpy logs each answer it records at INFO *before* the redaction hook
  runs (``vcr.cassette``, ``Cassette.append``); a filter on that logger keeps the line and drops
  the answer, which may hold a token or a generated password.
- Control-plane calls (``/_sim/…``) are never recorded: they are not Partner Center traffic, and
  they reach the real simulator when one runs. With ``upstreams`` set, only traffic to those
  origins is recorded (stored under ``CANONICAL_ORIGIN``, so re-recording does not churn with the
  port); everything else (a gateway's northbound API, say) passes through untouched.
- Replay (record mode ``none``) is the default; a request the cassette does not hold raises
  vcrpy's ``CannotOverwriteExistingCassetteException`` where it is made, and ``Tape`` keeps a list
  of such misses so a test fails loudly even when the caller swallowed the exception.
- The adapter's retries sit around ``session.request`` (see ``adapters.partner_center.client``),
  where vcrpy patches, so every attempt is its own interaction, replayed in recorded order.

LIMITATIONS:
- Redaction is by key name (JSON keys at any depth, form fields, query parameters, headers): a
  secret inside free text is not found.
- ``all`` re-records over a loaded cassette (vcrpy keeps loaded interactions nothing replaced);
  ``rewrite`` deletes the file first and is the way to start a cassette afresh.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import vcr
from vcr.errors import CannotOverwriteExistingCassetteException

RecordModeName = Literal["none", "once", "new_episodes", "all", "rewrite"]
RECORD_MODES: tuple[str, ...] = get_args(RecordModeName)
MATCH_ON = ("method", "path", "query", "body")
REDACTED = "<redacted>"
#: Where recorded upstream requests are said to have gone when ``upstreams`` is set.
CANONICAL_ORIGIN = "http://partner-center.invalid"
#: Keys whose values are secrets wherever they appear (JSON at any depth, forms, queries).
SECRET_KEYS = (
    "client_secret", "clientSecret", "client_assertion", "access_token", "refresh_token",
    "id_token", "password", "assertion",
)  # fmt: skip
SECRET_HEADERS = ("authorization", "cookie", "set-cookie", "x-sim-key")
CONTROL_PLANE = "/_sim"

__all__ = [
    "CANONICAL_ORIGIN",
    "MATCH_ON",
    "RECORD_MODES",
    "REDACTED",
    "CannotOverwriteExistingCassetteException",
    "Recording",
    "Tape",
    "cassette",
    "make_vcr",
]


@dataclass(frozen=True, slots=True)
class Recording:
    """How cassettes are recorded, redacted and matched."""

    mode: RecordModeName = "none"
    #: Extra JSON / form / query keys whose values never reach a cassette.
    redact: Sequence[str] = ()
    #: Origins (``scheme://host:port``) that are Partner Center; empty: everything but ``/_sim``.
    upstreams: Sequence[str] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (*SECRET_KEYS, *self.redact)

    @property
    def replays_only(self) -> bool:
        return self.mode == "none"


@dataclass(slots=True)
class Interaction:
    method: str
    path: str
    status: int


@dataclass(slots=True)
class Tape:
    """A cassette in use: what it holds, what was played, and what it could not answer."""

    path: Path
    cassette: Any
    #: The cassette existed and the mode does not record over it: every answer comes from it.
    replaying: bool
    misses: list[str] = field(default_factory=list)
    #: Interactions before this index were loaded and are being recorded over (mode ``all``).
    first: int = 0

    def interactions(self) -> list[Interaction]:
        """What the cassette holds for this run, oldest first."""
        return [
            Interaction(req.method, urlsplit(req.uri).path, int(resp["status"]["code"]))
            for req, resp in self.cassette.data[self.first :]
        ]

    def played(self) -> list[Interaction]:
        return self._by_count(played=True)

    def unplayed(self) -> list[Interaction]:
        return self._by_count(played=False)

    def _by_count(self, *, played: bool) -> list[Interaction]:
        counts = self.cassette.play_counts
        held = enumerate(self.interactions(), start=self.first)
        return [i for n, i in held if bool(counts[n]) is played]


class _AnswerNotLogged(logging.Filter):
    """See the module docstring: vcrpy's "Appending request … and response …" line, without the
    response."""

    MESSAGE = "Appending request %s and response %s"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == self.MESSAGE and isinstance(record.args, tuple) and record.args:
            record.args = (record.args[0], "<not logged: it is recorded with secrets redacted>")
        return True


_ANSWER_NOT_LOGGED = _AnswerNotLogged()


def make_vcr(recording: Recording, cassette_dir: Path | None = None) -> vcr.VCR:
    """The one vcrpy configuration (``rewrite`` maps to ``new_episodes`` on a deleted file)."""
    logging.getLogger("vcr.cassette").addFilter(_ANSWER_NOT_LOGGED)  # no-op if already added
    keys = recording.keys
    mode = "new_episodes" if recording.mode == "rewrite" else recording.mode
    return vcr.VCR(
        cassette_library_dir=str(cassette_dir) if cassette_dir else None,
        record_mode=mode,
        match_on=MATCH_ON,
        filter_headers=[(h, REDACTED) for h in SECRET_HEADERS],
        filter_query_parameters=[(k, REDACTED) for k in keys],
        filter_post_data_parameters=[(k, REDACTED) for k in keys],
        filter_nested_post_data_parameters=True,
        before_record_request=_select(recording.upstreams),
        before_record_response=_redact_answer(keys, recording.upstreams),
        decode_compressed_response=True,
    )


@contextmanager
def cassette(path: Path, recording: Recording) -> Iterator[Tape]:
    """Run the block against the cassette at ``path``; fail loudly after it if any request had
    no recorded answer (even when the code under test caught the exception)."""
    if recording.mode == "rewrite":
        path.unlink(missing_ok=True)
    existed = path.exists()
    with make_vcr(recording).use_cassette(str(path)) as cass:
        first = len(cass.data) if recording.mode == "all" else 0
        tape = Tape(path, cass, replaying=bool(cass.write_protected and existed), first=first)
        _track_misses(tape)
        yield tape
    if tape.misses:
        listed = "\n  ".join(tape.misses)
        raise AssertionError(
            f"{len(tape.misses)} request(s) not in cassette {path} (record mode "
            f"{recording.mode!r}; re-record with --record-mode=rewrite):\n  {listed}"
        )


def _track_misses(tape: Tape) -> None:
    cass = tape.cassette
    can_play = cass.can_play_response_for

    def tracked(request: Any) -> Any:
        answer = can_play(request)
        if not answer and cass.write_protected and cass.filter_request(request):
            parts = urlsplit(request.uri)
            query = f"?{parts.query}" if parts.query else ""
            tape.misses.append(f"{request.method} {parts.path}{query}")
        return answer

    cass.can_play_response_for = tracked


# -- hooks ------------------------------------------------------------------------------------


def _select(upstreams: Sequence[str]) -> Callable[[Any], Any]:
    """Keep Partner Center traffic (under one origin), drop the rest from the cassette."""
    origins = {_origin(u) for u in upstreams}

    def select(request: Any) -> Any:
        parts = urlsplit(request.uri)
        if parts.path.startswith(CONTROL_PLANE):
            return None
        if not origins:
            return request
        if _origin(request.uri) not in origins | {CANONICAL_ORIGIN}:
            return None
        request.uri = CANONICAL_ORIGIN + request.uri[len(_origin(request.uri)) :]
        return request

    return select


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _redact_answer(keys: Sequence[str], upstreams: Sequence[str]) -> Callable[[Any], Any]:
    names = frozenset(keys)
    origins = {_origin(u) for u in upstreams}

    def redact(response: dict[str, Any]) -> dict[str, Any]:
        response = copy.deepcopy(response)
        body = response.get("body") or {}
        raw = body.get("string")
        if raw:
            cleaned = _redact_json(raw, names)
            if cleaned is not None:
                body["string"] = cleaned
                _set_length(response, len(cleaned))
        headers = response.get("headers") or {}
        for name in list(headers):
            if name.lower() in SECRET_HEADERS:
                headers[name] = [REDACTED]
        url = response.get("url")
        if isinstance(url, str) and _origin(url) in origins:
            response["url"] = CANONICAL_ORIGIN + url[len(_origin(url)) :]
        return response

    return redact


def _redact_json(raw: bytes | str, names: frozenset[str]) -> bytes | None:
    """The body with every named key's value replaced, or None when it is not JSON or holds
    none of them (so the recorded bytes stay exactly what was sent)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    cleaned, changed = _scrub(data, names)
    return json.dumps(cleaned).encode() if changed else None


def _scrub(value: Any, names: frozenset[str]) -> tuple[Any, bool]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            if key in names and item is not None:
                out[key], changed = REDACTED, True
            else:
                out[key], inner = _scrub(item, names)
                changed = changed or inner
        return out, changed
    if isinstance(value, list):
        pairs = [_scrub(item, names) for item in value]
        return [p[0] for p in pairs], any(p[1] for p in pairs)
    return value, False


def _set_length(response: dict[str, Any], length: int) -> None:
    headers = response.get("headers") or {}
    for name in list(headers):
        if name.lower() == "content-length":
            headers[name] = [str(length)]
