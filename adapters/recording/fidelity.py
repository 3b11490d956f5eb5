"""The fidelity loop: replay every cassette's requests against a running simulator and say where
its answers drift from the recorded ones.

Recordings rot silently: a cassette keeps passing in replay long after the thing it was recorded
against has changed. Replaying its requests against a live simulator, and comparing only what a
client branches on — the status, Partner Center's error ``code`` and the set of top-level JSON
fields — shows the drift. Values (ids, dates, tokens, request ids) differ between any two runs and
are never compared.

A cassette is replayed as: ``POST /_sim/reset`` (the simulator is seeded, so the same requests get
the same ids again and recorded paths that carry ids stay valid), the optional ``PUT /_sim/config``,
then each recorded request in order with its method, path and query (the recorded host and port are
ignored), body and headers, carrying our own bearer token. ``/_sim`` requests in a cassette are
replayed too, because they made the state the next answers depend on (clock moves, faults,
partners), and are compared like the rest.

LIMITATIONS:
- A cassette recorded against Microsoft's sandbox carries Microsoft's ids in its paths and bodies;
  the simulator hands out its own, so from the first request that names a recorded id on, the
  simulator answers 403/404 and the report shows that, not drift. Such cassettes are checked
  reliably only up to there.
- Cassettes hold no usable ``Authorization``, so which identity made a call is unknown: every call
  carries the token of the latest sign-in replayed from the same cassette (the configured
  credentials when none came yet). Cassettes interleaving two partners' calls replay as the last.
- Sign-ins are replayed with the configured secret for the configured client id, with the secret
  the simulator returned for partners made by ``POST /_sim/partners`` in the same cassette, and with
  the configured secret for any other client (a refusal is then reported as a difference).
- A recorded 429 or 5xx the simulator does not repeat is listed as transient, not as a
  difference (faults injected with ``/_sim/faults`` are not in cassettes): a simulator that starts
  answering 5xx where the recording had 5xx is therefore not caught either.
- Control-plane calls the recorder left out (clock moves, faults, partners) are not replayed, so a
  cassette whose answers depended on them shows differences from that point on.
- Nested fields, headers and list order are not compared.
- Request bodies vcrpy stored as Python objects are resent as JSON (as a form for sign-ins).
- State made before a cassette started recording (fixtures outside it) is not recreated.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

SUFFIXES = (".yaml", ".yml", ".json")
#: Recorded answers that say "try again", not "this is how Partner Center behaves": a cassette
#: holds them when a fault was injected (``/_sim/faults`` is never recorded) or Microsoft had a
#: bad moment. A simulator answering otherwise is not drift; the retry that follows is compared.
TRANSIENT = frozenset({429, 500, 502, 503, 504})
TIMEOUT = aiohttp.ClientTimeout(total=30)
RESOURCE = "https://api.partnercenter.microsoft.com"
#: Request headers never replayed: ours replace them, or aiohttp computes them for the new body.
DROPPED_HEADERS = frozenset(
    {"authorization", "host", "content-length", "cookie", "x-sim-key", "transfer-encoding"}
)


class FidelityError(Exception):
    """The run could not be done at all (no cassettes, unreadable file, no simulator)."""


@dataclass(frozen=True)
class Credentials:
    tenant_id: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Recorded:
    """One interaction as the cassette holds it."""

    method: str
    target: str  # path and query, exactly as sent
    headers: dict[str, str]
    body: Any  # what vcrpy stored: None, str, bytes, or the dict/list given to aiohttp
    status: int
    response: bytes | None


@dataclass(frozen=True)
class Difference:
    index: int  # 1-based position in the cassette
    method: str
    target: str
    status: tuple[int, int] | None = None
    code: tuple[object, object] | None = None
    missing: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    shape: tuple[str, str] | None = None

    def lines(self) -> list[str]:
        out = [f"#{self.index} {self.method} {self.target}"]
        if self.status:
            out.append(f"   status: recorded {self.status[0]}, simulator {self.status[1]}")
        if self.code:
            recorded, live = (_text(c) for c in self.code)
            out.append(f"   error code: recorded {recorded}, simulator {live}")
        if self.shape:
            out.append(f"   body: recorded {self.shape[0]}, simulator {self.shape[1]}")
        if self.missing:
            out.append(f"   fields missing from the simulator: {', '.join(self.missing)}")
        if self.added:
            out.append(f"   fields only the simulator sends: {', '.join(self.added)}")
        return out

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "method": self.method, "target": self.target}
        if self.status:
            out["status"] = {"recorded": self.status[0], "simulator": self.status[1]}
        if self.code:
            out["code"] = {"recorded": self.code[0], "simulator": self.code[1]}
        if self.shape:
            out["body"] = {"recorded": self.shape[0], "simulator": self.shape[1]}
        out["missing"] = list(self.missing)
        out["added"] = list(self.added)
        return out


@dataclass
class CassetteReport:
    path: str
    replayed: int = 0
    differences: list[Difference] = field(default_factory=list)
    #: Recorded transient failures the simulator did not repeat: noted, not counted.
    transient: list[Difference] = field(default_factory=list)

    def lines(self) -> list[str]:
        verdict = _differ(len(self.differences)) if self.differences else "every response matches"
        out = [f"{self.path}: {self.replayed} requests, {verdict}"]
        out += ["  " + line for d in self.differences for line in d.lines()]
        out += [
            f"  #{t.index} {t.method} {t.target}: recorded {t.status[0]}, simulator "
            f"{t.status[1]} (a transient failure, e.g. an injected fault: not compared)"
            for t in self.transient
            if t.status
        ]
        return out


@dataclass
class Report:
    against: str
    cassettes: list[CassetteReport] = field(default_factory=list)

    @property
    def differing(self) -> int:
        return sum(len(c.differences) for c in self.cassettes)

    @property
    def ok(self) -> bool:
        return self.differing == 0

    def render(self) -> str:
        lines = [line for c in self.cassettes for line in c.lines()]
        replayed = sum(c.replayed for c in self.cassettes)
        verdict = "no response differs" if self.ok else _differ(self.differing)
        lines.append(
            f"{len(self.cassettes)} cassettes, {replayed} requests replayed against "
            f"{self.against}: {verdict}"
        )
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "ok": self.ok,
            "differing": self.differing,
            "cassettes": [
                {
                    "path": c.path,
                    "replayed": c.replayed,
                    "differences": [d.as_json() for d in c.differences],
                    "transient": [t.as_json() for t in c.transient],
                }
                for c in self.cassettes
            ],
        }


def parse_sim_config(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise FidelityError(f"--sim-config is not JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise FidelityError('--sim-config must be a JSON object, e.g. {"sandboxLimits": true}')
    return config


def _differ(count: int) -> str:
    return "1 response differs" if count == 1 else f"{count} responses differ"


# -- reading cassettes ---------------------------------------------------------------------------


def cassette_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FidelityError(f"no cassette directory at {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    if not files:
        raise FidelityError(f"no cassettes (*.yaml, *.yml, *.json) under {root}")
    return files


def load_cassette(path: Path) -> list[Recorded]:
    try:
        data = _parse(path)
        return [_recorded(item) for item in data["interactions"]]
    except FidelityError:
        raise
    except Exception as exc:
        raise FidelityError(f"{path}: not a vcrpy cassette ({exc})") from exc


def _parse(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    try:
        from vcr.serializers import yamlserializer
    except ImportError as exc:  # vcrpy comes with the test extra
        raise FidelityError("reading cassettes needs vcrpy: pip install 'pcgw[test]'") from exc
    return yamlserializer.deserialize(text)


def _recorded(item: Mapping[str, Any]) -> Recorded:
    request, response = item["request"], item["response"]
    parts = urllib.parse.urlsplit(str(request["uri"]))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = (response.get("body") or {}).get("string")
    return Recorded(
        method=str(request["method"]).upper(),
        target=target,
        headers=_flat_headers(request.get("headers") or {}),
        body=request.get("body"),
        status=int(response["status"]["code"]),
        response=body.encode() if isinstance(body, str) else body,
    )


def _flat_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """vcrpy stores each header as a list of values; a request sends one."""
    out = {}
    for name, value in headers.items():
        values = value if isinstance(value, list) else [value]
        out[str(name)] = ", ".join(str(v) for v in values)
    return out


# -- comparing -----------------------------------------------------------------------------------


def _decode(body: bytes | None) -> Any:
    if not body or not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


def _shape(value: Any) -> str:
    if value is None:
        return "no body"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, bytes):
        return "text"
    return "a JSON scalar"


def _error_code(status: int, value: Any) -> object:
    return value.get("code") if status >= 400 and isinstance(value, dict) else None


def _text(code: object) -> str:
    return "none" if code is None else str(code)


def compare(index: int, recorded: Recorded, status: int, body: bytes | None) -> Difference | None:
    """What a client would notice between the recorded answer and the simulator's."""
    then, now = _decode(recorded.response), _decode(body)
    changes: dict[str, Any] = {}
    if recorded.status != status:
        changes["status"] = (recorded.status, status)
    codes = (_error_code(recorded.status, then), _error_code(status, now))
    if codes[0] != codes[1]:
        changes["code"] = codes
    if isinstance(then, dict) and isinstance(now, dict):
        changes["missing"] = tuple(sorted(set(then) - set(now)))
        changes["added"] = tuple(sorted(set(now) - set(then)))
    elif _shape(then) != _shape(now):
        changes["shape"] = (_shape(then), _shape(now))
    if not any(changes.values()):
        return None
    return Difference(index, recorded.method, recorded.target, **changes)


# -- replaying -----------------------------------------------------------------------------------


def is_sign_in(target: str) -> bool:
    path = target.split("?", 1)[0].strip("/").split("/")
    return len(path) >= 3 and path[1] == "oauth2" and path[-1] == "token"


def is_control(target: str) -> bool:
    return target == "/_sim" or target.startswith(("/_sim/", "/_sim?"))


def _form(body: Any) -> dict[str, str]:
    if isinstance(body, Mapping):
        return {str(k): str(v) for k, v in body.items()}
    if isinstance(body, bytes):
        body = body.decode()
    return dict(urllib.parse.parse_qsl(body or "", keep_blank_values=True))


def _body_arguments(body: Any, headers: Mapping[str, str]) -> dict[str, Any]:
    if body is None:
        return {}
    if isinstance(body, dict | list):
        return {"json": body}
    data = body.encode() if isinstance(body, str) else bytes(body)
    if not any(name.lower() == "content-type" for name in headers):
        return {"data": data, "headers": {"Content-Type": "application/json"}}
    return {"data": data}


def _replayed_headers(recorded: Mapping[str, str], body: Any) -> dict[str, str]:
    keep = {k: v for k, v in recorded.items() if k.lower() not in DROPPED_HEADERS}
    if isinstance(body, dict | list):  # aiohttp writes its own JSON content type
        keep = {k: v for k, v in keep.items() if k.lower() != "content-type"}
    return keep


class Replayer:
    """One simulator, one cassette at a time; keeps the current bearer and known secrets."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        credentials: Credentials,
        sim_config: Mapping[str, Any] | None = None,
        control_key: str | None = None,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._credentials = credentials
        self._sim_config = sim_config
        self._control_key = control_key
        self._token: str | None = None
        self._secrets: dict[str, str] = {}

    async def replay(self, path: str, interactions: list[Recorded]) -> CassetteReport:
        await self._prepare()
        report = CassetteReport(path)
        for index, recorded in enumerate(interactions, 1):
            status, body = await self._send(recorded)
            report.replayed += 1
            difference = compare(index, recorded, status, body)
            if difference and difference.status and recorded.status in TRANSIENT:
                report.transient.append(difference)
            elif difference:
                report.differences.append(difference)
        return report

    async def _prepare(self) -> None:
        self._token = None
        self._secrets = {self._credentials.client_id: self._credentials.client_secret}
        await self._control("POST", "/_sim/reset", None, 204)
        if self._sim_config:
            await self._control("PUT", "/_sim/config", dict(self._sim_config), 200)

    async def _control(self, method: str, path: str, body: Any, expected: int) -> None:
        status, answer = await self._request(method, path, self._control_headers(), json=body)
        if status != expected:
            raise FidelityError(
                f"{method} {self._base}{path} answered {status}, not {expected}: "
                f"{(answer or b'').decode(errors='replace')[:300]} (is a simulator running there?)"
            )

    def _control_headers(self) -> dict[str, str]:
        return {"X-Sim-Key": self._control_key} if self._control_key else {}

    async def _send(self, recorded: Recorded) -> tuple[int, bytes]:
        if is_sign_in(recorded.target):
            return await self._sign_in(recorded.target, _form(recorded.body))
        arguments = _body_arguments(recorded.body, recorded.headers)
        headers = {**_replayed_headers(recorded.headers, recorded.body)}
        headers.update(arguments.pop("headers", {}))
        if is_control(recorded.target):
            headers.update(self._control_headers())
        else:
            headers["Authorization"] = f"Bearer {await self._bearer()}"
        status, body = await self._request(recorded.method, recorded.target, headers, **arguments)
        if is_control(recorded.target):
            self._learn_secret(recorded.target, status, body)
        return status, body

    async def _bearer(self) -> str:
        if self._token is None:
            c = self._credentials
            form = {"grant_type": "client_credentials", "client_id": c.client_id}
            status, body = await self._sign_in(f"/{c.tenant_id}/oauth2/token", form | {"resource": RESOURCE})  # fmt: skip
            if self._token is None:
                raise FidelityError(
                    f"signing in as {c.client_id} at {self._base} answered {status}: "
                    f"{body.decode(errors='replace')[:300]}"
                )
        return self._token

    async def _sign_in(self, target: str, form: dict[str, str]) -> tuple[int, bytes]:
        client_id = form.get("client_id", self._credentials.client_id)
        form["client_secret"] = self._secrets.get(client_id, self._credentials.client_secret)
        status, body = await self._request("POST", target, {}, data=form)
        token = _decode(body)
        if status == 200 and isinstance(token, dict) and token.get("access_token"):
            self._token = str(token["access_token"])
        return status, body

    def _learn_secret(self, target: str, status: int, body: bytes) -> None:
        answer = _decode(body)
        if status == 201 and target.startswith("/_sim/partners") and isinstance(answer, dict):
            client_id, secret = answer.get("clientId"), answer.get("clientSecret")
            if isinstance(client_id, str) and isinstance(secret, str):
                self._secrets[client_id] = secret

    async def _request(
        self, method: str, target: str, headers: Mapping[str, str], **kw: Any
    ) -> tuple[int, bytes]:
        url = URL(self._base + target, encoded=True)
        try:
            async with self._session.request(method, url, headers=headers, **kw) as resp:
                return resp.status, await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FidelityError(
                f"{method} {self._base}{target}: no answer ({exc.__class__.__name__}: {exc})"
            ) from exc


def _paths(files: list[Path]) -> Iterator[tuple[str, Path]]:
    cwd = Path.cwd()
    for path in files:
        shown = path.resolve()
        yield (str(shown.relative_to(cwd)) if shown.is_relative_to(cwd) else str(path)), path


async def verify(
    root: Path,
    base_url: str,
    credentials: Credentials,
    sim_config: Mapping[str, Any] | None = None,
    control_key: str | None = None,
) -> Report:
    """Replay every cassette under ``root`` against the simulator at ``base_url``."""
    loaded = [(shown, load_cassette(path)) for shown, path in _paths(cassette_files(root))]
    report = Report(base_url)
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        replayer = Replayer(session, base_url, credentials, sim_config, control_key)
        for shown, interactions in loaded:
            report.cassettes.append(await replayer.replay(shown, interactions))
    return report
