"""OpenAPI 3.1 documents built from a route table and the pydantic models — never by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema


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


def build(
    routes: list[Route], *, title: str, version: str, error: type[BaseModel]
) -> dict[str, Any]:
    models: set[type[BaseModel]] = {error}
    for route in routes:
        models.update(m for m in (route.body, route.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    refs, schema = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, Any] = {}
    for route in routes:
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
                "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if route.response is not None:
            ok["content"] = {"application/json": {"schema": refs[(route.response, "validation")]}}
        op["responses"][str(route.status)] = ok
        for status in (*route.errors, 400):
            op["responses"].setdefault(
                str(status),
                {
                    "description": "Refused",
                    "content": {"application/json": {"schema": refs[(error, "validation")]}},
                },
            )
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schema.get("$defs", {})},
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
