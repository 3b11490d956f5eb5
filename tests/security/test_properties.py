"""Property tests: hypothesis throws arbitrary bytes, JSON, headers and path ids at every write
the gateway serves (and arbitrary queries at its reads). Whatever comes in, no answer is a 5xx,
none carries a stack trace or a Python repr, and afterwards the journal holds exactly the
operations the gateway accepted (202) — nothing from a refused request, nothing half-made. The
simulator's writes get the same treatment and answer every refusal in Microsoft's error shape.

The gateway and the simulator run in a thread of their own (``Served``) so hypothesis drives
them synchronously; examples are derandomized and the example database is off, so a run is the
same in CI as here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contracts.partner_center.routes import ROUTES as PC_ROUTES
from gateway import api
from gateway.app import create_app as create_gateway
from simulator import SimulatorSettings
from simulator import create_app as create_simulator
from tests.contracts.served import Served
from tests.gateway.conftest import fast_settings, purchase_order
from tests.simulator.conftest import PROVIDER, customer_body

EXAMPLES = 200
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
#: What must never reach a caller: Python's own words about itself.
LEAKS = ("Traceback (most recent call last)", 'File "/', "object at 0x", "<class '")


def _write_paths() -> list[str]:
    return [r.path for r in api.ROUTES if r.method == "POST"]


WRITES = _write_paths()
#: A body each write would take, for mutation (writes that take none get ``{}``).
VALID: dict[str, Any] = {
    "/v1/orders": purchase_order(),
    "/seats": {"quantity": 5},
    "/cancel": {"reason": "Other"},
    "/auto-renew": {"enabled": False},
    "/partner-of-record": {"mpnId": "2000002"},
}


def _valid_body(template: str) -> Any:
    for suffix, body in VALID.items():
        if template.endswith(suffix):
            return json.loads(json.dumps(body))
    return {}


def _fill(template: str, ids: dict[str, str] | None = None) -> str:
    """The path with every ``{name}`` replaced by a fresh GUID (or by ``ids[name]``)."""
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        name = path[start + 1 : end]
        path = path[:start] + (ids or {}).get(name, str(uuid.uuid4())) + path[end + 1 :]
    return path


class Run:
    """One gateway (keys off: these are the input rules every caller meets) on a simulator."""

    def __init__(self, url: str, sim_url: str) -> None:
        self.url = url
        self.sim_url = sim_url
        self.http = requests.Session()
        self.accepted: set[str] = set()

    def send(
        self,
        template: str,
        body: bytes | None,
        headers: dict[str, str],
        ids: dict[str, str] | None = None,
    ) -> requests.Response:
        resp = self.http.post(self.url + _fill(template, ids), data=body, headers=headers,
                              timeout=30)  # fmt: skip
        self.check(resp)
        return resp

    def check(self, resp: requests.Response) -> None:
        text = resp.text
        assert resp.status_code < 500, text
        for leak in LEAKS:
            assert leak not in text, text
        if resp.status_code == 202:
            self.accepted.add(resp.json()["id"])
        elif resp.status_code >= 400 and resp.headers.get("Content-Type", "").startswith(
            "application/json"
        ):
            body = resp.json()
            assert set(body) <= {"code", "message", "field", "correlationId"}, body
            assert body["message"], body

    def journal(self) -> set[str]:
        ids: set[str] = set()
        cursor = ""
        while True:
            query = {"limit": "200", **({"cursor": cursor} if cursor else {})}
            page = self.http.get(f"{self.url}/v1/operations", params=query, timeout=30).json()
            ids.update(item["id"] for item in page["items"])
            cursor = page.get("nextCursor") or ""
            if not cursor:
                return ids


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    served = Served()
    try:
        sim_url = served.start(lambda: create_simulator(SimulatorSettings()))
        requests.put(f"{sim_url}/_sim/config", json={"rateLimitPerMinute": 0}, timeout=10)
        database: Path = tmp_path_factory.mktemp("fuzz") / "journal.db"
        settings_ = fast_settings(sim_url, database, auth="off")
        yield Run(served.start(lambda: create_gateway(settings_)), sim_url)
    finally:
        served.close()


def journal_grows_only_by_accepted(run: Run, examples: Callable[[], None]) -> None:
    """Run the property, then compare the journal, read through the API, with the 202s."""
    before = run.journal()
    run.accepted.clear()
    examples()
    assert run.journal() - before == run.accepted


JSON_TYPE = {"Content-Type": "application/json"}
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "application/xml",
     "application/x-www-form-urlencoded", "application/json; charset=utf-16", ""]
)  # fmt: skip
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)
header_text = st.text(
    st.characters(max_codepoint=0xFF, exclude_characters="\r\n"), max_size=300
).map(str.lstrip)  # requests refuses a value that starts with whitespace


def test_arbitrary_bytes_with_any_content_type_are_refused_cleanly(run: Run) -> None:
    @PROPERTY
    @given(
        template=st.sampled_from(WRITES),
        body=st.binary(max_size=2048),
        content_type=content_types,
    )
    def examples(template: str, body: bytes, content_type: str) -> None:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        if content_type:
            headers["Content-Type"] = content_type
        run.send(template, body, headers)

    journal_grows_only_by_accepted(run, examples)


def test_arbitrary_json_values_are_refused_or_taken_never_half_taken(run: Run) -> None:
    @PROPERTY
    @given(template=st.sampled_from(WRITES), value=json_values, dupe=st.booleans())
    def examples(template: str, value: Any, dupe: bool) -> None:
        text = json.dumps(value, allow_nan=True)
        if dupe and text.startswith("{") and text != "{}":  # repeat the first key at the end
            first = text[1:].split(",")[0].rstrip("}")
            text = text[:-1] + ", " + first + "}"
        run.send(template, text.encode(), {"Idempotency-Key": str(uuid.uuid4()), **JSON_TYPE})

    journal_grows_only_by_accepted(run, examples)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        found = [path] if path else []
        for key, item in value.items():
            found += _leaves(item, (*path, key))
        return found
    if isinstance(value, list):
        found = [path]
        for index, item in enumerate(value):
            found += _leaves(item, (*path, index))
        return found
    return [path]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    node = value
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = new
    return value


def test_a_valid_request_with_one_part_replaced_by_anything_is_refused_or_taken(run: Run) -> None:
    mutable = [t for t in WRITES if _valid_body(t)]

    @PROPERTY
    @given(data=st.data())
    def examples(data: st.DataObject) -> None:
        template = data.draw(st.sampled_from(mutable))
        body = _valid_body(template)
        where = data.draw(st.sampled_from(_leaves(body)))
        new = data.draw(json_values)
        changed = _replace(body, where, new)
        raw = json.dumps(changed, allow_nan=True).encode()
        run.send(template, raw, {"Idempotency-Key": str(uuid.uuid4()), **JSON_TYPE})

    journal_grows_only_by_accepted(run, examples)


def test_arbitrary_header_ids_and_path_ids_are_refused_cleanly(run: Run) -> None:
    @PROPERTY
    @given(
        template=st.sampled_from([t for t in WRITES if "{" in t]),
        key=header_text,
        correlation=st.none() | header_text,
        raw_id=st.text(max_size=80),
        guid_ids=st.booleans(),
        content_type=st.sampled_from(["application/json"])
        | header_text.map(lambda t: "application/json;" + t),
    )
    def examples(
        template: str,
        key: str,
        correlation: str | None,
        raw_id: str,
        guid_ids: bool,
        content_type: str,
    ) -> None:
        headers = {"Idempotency-Key": key, "Content-Type": content_type}
        if correlation is not None:
            headers["X-Correlation-Id"] = correlation
        names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
        ids = {} if guid_ids else {names[0]: quote(raw_id, safe="") or "%20"}
        body = json.dumps(_valid_body(template)).encode()
        resp = run.send(template, body, headers, ids)
        given_id = headers.get("X-Correlation-Id")
        echoed = resp.headers.get("X-Correlation-Id")
        if echoed is not None and given_id and echoed != given_id:
            assert resp.status_code == 400  # refused, answered under an id of our own

    journal_grows_only_by_accepted(run, examples)


def test_arbitrary_query_strings_and_ids_on_reads_never_fail_the_gateway(run: Run) -> None:
    reads = ["/v1/operations", f"/v1/operations/{uuid.uuid4()}", "/v1/customers/{id}",
             "/v1/resellers/{id}", "/v1/customers/{id}/subscriptions.csv"]  # fmt: skip
    params = st.sampled_from(["cursor", "limit", "status", "kind", "waitSeconds", "domain", "x"])

    @PROPERTY
    @given(
        path=st.sampled_from(reads),
        raw_id=st.text(max_size=40),
        query=st.dictionaries(params, st.text(max_size=60), max_size=3),
    )
    def examples(path: str, raw_id: str, query: dict[str, str]) -> None:
        if query.get("waitSeconds"):
            query["waitSeconds"] = "0"  # a real wait on an unknown id still answers at once
        url = run.url + path.replace("{id}", quote(raw_id, safe="") or "%20")
        run.check(run.http.get(url, params=query, timeout=30))

    journal_grows_only_by_accepted(run, examples)


def test_the_simulator_answers_arbitrary_writes_in_microsofts_shape_never_a_5xx(run: Run) -> None:
    http = requests.Session()
    token = http.post(
        f"{run.sim_url}/{PROVIDER['tenant_id']}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": PROVIDER["client_id"],
              "client_secret": PROVIDER["client_secret"],
              "resource": "https://api.partnercenter.microsoft.com"},
        timeout=10,
    ).json()["access_token"]  # fmt: skip
    http.headers["Authorization"] = f"Bearer {token}"
    made = http.post(f"{run.sim_url}/v1/customers", json=customer_body("fuzz.onmicrosoft.com"),
                     timeout=10)  # fmt: skip
    assert made.status_code == 201, made.text
    ids = {"customer": made.json()["id"], "tenant": PROVIDER["tenant_id"]}
    writes = [(r.method, r.path) for r in PC_ROUTES if r.method in ("POST", "PATCH", "PUT")]

    @PROPERTY
    @given(
        route=st.sampled_from(writes),
        body=st.binary(max_size=1024)
        | json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
        content_type=content_types,
    )
    def examples(route: tuple[str, str], body: bytes, content_type: str) -> None:
        method, template = route
        headers = {"Content-Type": content_type} if content_type else {}
        resp = http.request(method, run.sim_url + _fill(template, ids), data=body,
                            headers=headers, timeout=30)  # fmt: skip
        text = resp.text
        assert resp.status_code < 500, text
        for leak in LEAKS:
            assert leak not in text, text
        if resp.status_code >= 400 and "oauth2" not in template:
            assert set(resp.json()) == {"code", "description", "data", "source"}, text

    examples()
