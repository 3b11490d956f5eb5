"""OpenAPI 3.1 documents built from a route table and the pydantic models — never by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    summary: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    tag: str = "gateway"
    #: Further answers with their own body (``None``: no body), e.g. an Entra error or a 204.
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    #: How the body travels: JSON, or a form (``application/x-www-form-urlencoded``).
    body_type: str = JSON
    #: False for a route that needs no credentials (sign-in) when the document has a scheme.
    secured: bool = True


def build(
    routes: list[Route],
    *,
    title: str,
    version: str,
    error: type[BaseModel],
    security: dict[str, Any] | None = None,
    default_error: bool = False,
) -> dict[str, Any]:
    """``security`` names the document's schemes (required on every ``secured`` route);
    ``default_error`` declares the error body for every status a route does not list, so a
    checker validates all refusals, not only the ones named."""
    refs = _schemas(routes, error)
    paths: dict[str, Any] = {}
    for route in routes:
        op = _operation(route, refs, error, default_error)
        if security is not None and not route.secured:
            op["security"] = []
        paths.setdefault(route.path, {})[route.method.lower()] = op
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": refs.pop("$defs")},
    }
    if security is not None:
        document["components"]["securitySchemes"] = security
        document["security"] = [{name: []} for name in security]
    return document


def _schemas(routes: list[Route], error: type[BaseModel]) -> dict[Any, Any]:
    models: set[type[BaseModel]] = {error}
    for route in routes:
        models.update(m for m in (route.body, route.response) if m is not None)
        models.update(m for m in route.responses.values() if m is not None)
    ordered = sorted(models, key=lambda m: (m.__name__, m.__module__))
    refs, schema = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    out: dict[Any, Any] = {model: refs[(model, "validation")] for model in ordered}
    out["$defs"] = schema.get("$defs", {})
    return out


def _content(refs: dict[Any, Any], model: type[BaseModel], media: str = JSON) -> dict[str, Any]:
    return {media: {"schema": refs[model]}}


def _operation(
    route: Route, refs: dict[Any, Any], error: type[BaseModel], default_error: bool
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}_{route.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
        "tags": [route.tag],
        "responses": {},
    }
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_params(route.path)
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
         "description": text}
        for name, text in route.query.items()
    ]  # fmt: skip
    params += [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"},
         "description": text}
        for name, text in route.headers.items()
    ]  # fmt: skip
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": _content(refs, route.body, route.body_type),
        }
    responses: dict[str, Any] = op["responses"]
    ok: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        ok["content"] = _content(refs, route.response)
    responses[str(route.status)] = ok
    for status, model in route.responses.items():
        answer: dict[str, Any] = {"description": "No body" if model is None else "Answer"}
        if model is not None:
            answer["content"] = _content(refs, model)
        responses.setdefault(str(status), answer)
    refused = {"description": "Refused", "content": _content(refs, error)}
    for status in (*route.errors, 400):
        responses.setdefault(str(status), refused)
    if default_error:
        responses["default"] = refused
    return op


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
