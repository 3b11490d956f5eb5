"""The committed OpenAPI documents are what the code generates, and the Partner Center document
lists exactly the routes the simulator serves (``/_sim`` and ``/metrics`` aside)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from contracts.partner_center import resources, shapes
from contracts.partner_center.routes import ROUTES
from contracts.publish import expected
from simulator import SimulatorSettings
from simulator import create_app as create_simulator

REGENERATE = "regenerate them with `python -m contracts.publish` and commit the result"


def test_the_committed_documents_match_the_code() -> None:
    stale = [
        path.name
        for path, text in expected().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"{', '.join(stale)} differ from the code: {REGENERATE}"


def test_the_committed_documents_are_openapi_3_1_with_every_reference_resolved() -> None:
    for path, text in expected().items():
        doc = json.loads(text)
        assert doc["openapi"] == "3.1.0", path.name
        schemas = doc["components"]["schemas"]
        refs = {
            ref.rsplit("/", 1)[-1]
            for ref in _values(doc, "$ref")
            if ref.startswith("#/components/schemas/")
        }
        assert refs <= set(schemas), f"{path.name}: unresolved {sorted(refs - set(schemas))}"


def test_the_partner_center_document_lists_every_route_the_simulator_serves() -> None:
    app = create_simulator(SimulatorSettings())
    served = {
        (route.method, _template(route.resource.canonical))
        for route in app.router.routes()
        if route.resource is not None
        and not route.resource.canonical.startswith("/_sim")
        and route.resource.canonical != "/metrics"  # Prometheus's, not Partner Center's
    }
    # aiohttp answers HEAD on every GET route by itself; only a HEAD of its own is a route.
    served -= {("HEAD", path) for method, path in served if method == "GET"}
    documented = {(r.method, r.path.lower()) for r in ROUTES}
    assert served == documented, (
        f"served but not documented: {sorted(served - documented)}; "
        f"documented but not served: {sorted(documented - served)}"
    )


def test_the_partner_center_document_needs_a_bearer_token_except_to_sign_in() -> None:
    doc = json.loads(next(t for p, t in expected().items() if p.name == "partner-center.json"))
    assert doc["security"] == [{"bearer": []}]
    open_ = sorted(
        path
        for path, ops in doc["paths"].items()
        for op in ops.values()
        if op.get("security") == []
    )
    assert open_ == ["/{tenant}/oauth2/token", "/{tenant}/oauth2/v2.0/token"]


def _template(path: str) -> str:
    return path.lower()


def _values(node: object, key: str) -> list[str]:
    if isinstance(node, dict):
        found = [node[key]] if isinstance(node.get(key), str) else []
        return found + [v for child in node.values() for v in _values(child, key)]
    if isinstance(node, list):
        return [v for child in node for v in _values(child, key)]
    return []


def test_every_field_the_gateway_requires_is_one_the_document_promises() -> None:
    """The gateway reads answers with ``resources``; the document (``shapes``) must promise at
    least what those models require, else a client built from it could fail the gateway."""
    pairs = [
        (name, getattr(resources, name), getattr(shapes, name))
        for name in dir(resources)
        if isinstance(getattr(resources, name), type)
        and issubclass(getattr(resources, name), BaseModel)
        and getattr(resources, name) is not BaseModel
        and isinstance(getattr(shapes, name, None), type)
    ]
    assert len(pairs) >= 15
    for name, reader, shape in pairs:
        needed = set(reader.model_json_schema().get("required", []))
        promised = set(shape.model_json_schema().get("required", []))
        assert needed <= promised, f"{name}: {sorted(needed - promised)} not promised"
