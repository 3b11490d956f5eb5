"""Partner Center's wire conventions, in one place.

Requests: bodies bind case-insensitively (Microsoft's own samples mix ``LineItems`` and
``lineItems``), so every inbound JSON object has its keys folded to lower case and models declare
lower-case aliases. Responses: camelCase, times as ``…Z``, collections as
``{totalCount, items, links, attributes}``, links relative and without ``/v1``.

LIMITATIONS:
- Type checks follow pydantic's lax mode, like Microsoft's JSON binder: ``"5"`` is read as the
  number 5 and ``"true"`` as a boolean; ``true`` where a number belongs, ``"yes"`` where a boolean
  belongs, and a number where a string belongs are refused.
- An error names the first failing field only.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from simulator.errors import PartnerCenterError, invalid_input

JSON_TYPE = "application/json"
M = TypeVar("M", bound=BaseModel)


def iso(moment: datetime | None) -> str | None:
    """``2026-01-01T00:00:00Z`` with microseconds only when present, as Microsoft writes them."""
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat()[:-6] + "Z"  # every stored instant is aware UTC: drop "+00:00"


def day(moment: date) -> str:
    """A date-only instant (``commitmentEndDate``) as Microsoft writes it: midnight, ``Z``."""
    return f"{moment.isoformat()}T00:00:00Z"


def parse_instant(text: str, field: str) -> datetime:
    """An aware UTC datetime from ISO-8601 text; naive text is read as UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid_input(f"{field} must be an ISO-8601 date-time, got {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_DURATION = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str, field: str) -> timedelta:
    """An ISO-8601 duration of fixed length (``P8D``, ``PT6H``); years and months are refused
    because their length depends on where they start (use ``to`` for calendar moves)."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or text in ("P", "PT"):
        raise invalid_input(f"{field} must be an ISO-8601 duration such as P8D or PT6H")
    if match["y"] or match["mo"]:
        raise invalid_input(f"{field}: years and months have no fixed length; use days or 'to'")
    try:
        return timedelta(
            weeks=int(match["w"] or 0),
            days=int(match["d"] or 0),
            hours=int(match["h"] or 0),
            minutes=int(match["mi"] or 0),
            seconds=float(match["s"] or 0),
        )
    except OverflowError:
        raise invalid_input(f"{field}: {text} is longer than the simulator can count") from None


def duration_text(delta: timedelta) -> str:
    """A timedelta back as an ISO-8601 duration (``PT6H``, ``P1DT2H``, ``PT0S``)."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    clock += f"{secs}S" if secs else ""
    if clock:
        out += "T" + clock
    return out if out != "P" else "PT0S"


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def respond(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(payload), status=status, content_type=JSON_TYPE, headers=headers)


def no_content() -> web.Response:
    return web.Response(status=204)


def link(uri: str, method: str = "GET") -> dict[str, Any]:
    return {"uri": uri, "method": method, "headers": []}


def collection(
    items: list[Any],
    self_uri: str,
    *,
    object_type: str = "Collection",
    continuation_token: str | None = None,
    next_uri: str | None = None,
) -> dict[str, Any]:
    links: dict[str, Any] = {"self": link(self_uri)}
    body: dict[str, Any] = {"totalCount": len(items), "items": items}
    if continuation_token is not None:
        body["continuationToken"] = continuation_token
        links["next"] = {
            "uri": next_uri or self_uri,
            "method": "GET",
            "headers": [{"key": "MS-ContinuationToken", "value": continuation_token}],
        }
    body["links"] = links
    body["attributes"] = {"objectType": object_type}
    return body


class Folded(dict[str, Any]):
    """An object with lower-cased keys that remembers how the client spelled them, so an error
    can name a field as it was sent."""

    sent: dict[str, str]


def fold_keys(value: Any) -> Any:
    """Lower-case every object key, recursively: the case-insensitive binding Microsoft does."""
    if isinstance(value, dict):
        folded = Folded((str(k).lower(), fold_keys(v)) for k, v in value.items())
        folded.sent = {str(k).lower(): str(k) for k in value}
        return folded
    if isinstance(value, list):
        return [fold_keys(v) for v in value]
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, through ``X | None`` and ``list[X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def field_path(model: type[BaseModel] | None, data: Any, loc: tuple[Any, ...]) -> str:
    """``billingProfile.defaultAddress.country``: each key as the client sent it, or, for one it
    left out, the field's camelCase name."""
    names: list[str] = []
    for part in loc:
        if isinstance(part, int):
            names.append(str(part))
            data = data[part] if isinstance(data, list) and 0 <= part < len(data) else None
            continue
        info, name = None, None
        if model is not None:
            info = next((i for n, i in model.model_fields.items() if part in (i.alias, n)), None)
            name = next((n for n, i in model.model_fields.items() if i is info), None)
        sent = data.sent.get(part) if isinstance(data, Folded) else None
        names.append(sent or (_camel(name) if info is not None and name else str(part)))
        model = _model_in(info.annotation) if info is not None else None
        data = data.get(part) if isinstance(data, dict) else None
    return ".".join(names)


def _folded(name: str) -> str:
    return name.replace("_", "").lower()


def _only(annotation: Any, kind: type) -> bool:
    """Whether a field is ``kind`` or ``kind | None``."""
    if annotation is kind:
        return True
    args = get_args(annotation)
    return get_origin(annotation) in (Union, UnionType) and set(args) == {kind, type(None)}


def _loose(annotation: Any, value: Any) -> str | None:
    """What pydantic's lax mode would wrongly accept: ``true`` as the number 1, ``"yes"`` as a
    boolean. Digit strings for numbers stay accepted, as Microsoft's JSON binder accepts them."""
    if _only(annotation, int) and isinstance(value, bool):
        return "must be an integer"
    if _only(annotation, bool) and isinstance(value, str) and value.lower() not in BOOL_TEXT:
        return "must be true or false"
    return None


BOOL_TEXT = ("true", "false")


class Inbound(BaseModel):
    """Base of request bodies: case-insensitive keys, unknown keys ignored as Microsoft does,
    types checked (a value that cannot be read as its field's type, or ``true`` where a number
    belongs, is a 400 naming the field)."""

    model_config = ConfigDict(alias_generator=_folded, validate_by_name=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _strict_enough(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, info in cls.model_fields.items():
                key = info.alias or name
                if key in data:
                    rule = _loose(info.annotation, data[key])
                    if rule is not None:
                        raise PydanticCustomError(
                            "loose_type", "{field} {rule}, got {value}",
                            {"field": key, "rule": rule, "value": json.dumps(data[key])},
                        )  # fmt: skip
        return data


async def read_json(request: web.Request, *, required: bool = True) -> Any:
    """The request's JSON with folded keys; malformed JSON is a 400 / 800002, not a 500."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise invalid_input("the request body is empty; a JSON object is required")
        return None
    try:
        return fold_keys(json.loads(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_input(f"the request body is not valid JSON ({exc})") from None
    except RecursionError:
        raise invalid_input("the request body is nested too deeply") from None


def bind(model: type[M], data: Any) -> M:
    """Validate folded JSON into ``model``; the first failure becomes a 400 naming its field."""
    if not isinstance(data, dict):
        raise invalid_input("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(describe_validation(exc, model, data)) from None


async def body_as(request: web.Request, model: type[M]) -> M:
    return bind(model, await read_json(request))


def describe_validation(
    exc: ValidationError, model: type[BaseModel] | None = None, data: Any = None
) -> str:
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    ctx = first.get("ctx") or {}
    if first["type"] == "loose_type":
        where = field_path(model, data, (*loc, ctx["field"]))
        return f"{where} {ctx['rule']}, got {ctx['value']}"
    return f"{field_path(model, data, loc) or 'body'}: {first['msg']}"


def query_one(request: web.Request, name: str) -> str | None:
    """A query parameter, matched case-insensitively as Microsoft does."""
    lowered = name.lower()
    for key, value in request.query.items():
        if key.lower() == lowered:
            return value
    return None


def require(condition: bool, rule: str) -> None:
    if not condition:
        raise invalid_input(rule)


__all__ = [
    "Inbound",
    "PartnerCenterError",
    "bind",
    "body_as",
    "collection",
    "day",
    "dumps",
    "fold_keys",
    "iso",
    "link",
    "no_content",
    "parse_duration",
    "parse_instant",
    "query_one",
    "read_json",
    "require",
    "respond",
]
