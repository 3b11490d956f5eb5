"""``pcgw ops list|show|retry``: a running gateway's operations, over its own API.

The commands speak to the gateway only through ``/v1/operations`` (never its database), so they
see exactly what a marketplace sees with the same key, and a refusal is the API's own sentence.
``--json`` prints the API's answer as it came; otherwise a table.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

import typer

from gateway.cli_http import Answer, Connection, Failed, Server, console, print_json, run, secret

ops = typer.Typer(
    help="Operations on a running gateway (PCGW_URL; the key from PCGW_API_KEY or "
    "PCGW_API_KEY_FILE).",
    no_args_is_help=True,
)

Url = Annotated[str, typer.Option("--url", help="The gateway's base URL.", envvar="PCGW_URL")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer as it is.")]
OperationId = Annotated[str, typer.Argument(help="The operation's id.", show_default=False)]
DEFAULT_URL = "http://127.0.0.1:8080"


def gateway(url: str) -> Server:
    key = secret("PCGW_API_KEY")
    return Server(
        url=url.rstrip("/"),
        down=f"no gateway at {url.rstrip('/')}: is `pcgw serve` running?",
        unauthorized=(
            f"the gateway at {url.rstrip('/')} refused the API key: set PCGW_API_KEY (or "
            "PCGW_API_KEY_FILE) to your marketplace's key (`pcgw keys create NAME` makes one)"
            if key
            else f"the gateway at {url.rstrip('/')} wants an API key: set PCGW_API_KEY (or "
            "PCGW_API_KEY_FILE) to your marketplace's key (`pcgw keys create NAME` makes one)"
        ),
        headers={"Authorization": f"Bearer {key}"} if key else {},
    )


def _checked(answer: Answer, server: Server, op_id: str | None = None) -> Any:
    """The answer's JSON when it is a success; otherwise ``Failed`` in the user's words."""
    if answer.status < 300:
        return answer.json()
    if answer.status == 401:
        raise Failed(server.unauthorized, 2)
    if answer.status == 404 and op_id is not None:
        raise Failed(f"no operation {op_id}")
    try:
        problem = json.loads(answer.body)
        message = problem["message"]
    except (ValueError, KeyError, TypeError):
        message = f"the gateway answered {answer.status}"
    raise Failed(str(message), 1)


async def _call(url: str, method: str, path: str, op_id: str | None = None, **params: str) -> Any:
    server = gateway(url)
    async with Connection(server) as conn:
        return _checked(await conn.call(method, path, params=params or None), server, op_id)


def _when(value: str | None) -> str:
    """``2026-01-05T09:00:03.123456Z`` as ``2026-01-05 09:00:03``."""
    return value.replace("T", " ")[:19] if value else ""


def _current_step(op: dict[str, Any]) -> str:
    steps = op.get("steps") or []
    unfinished = [s for s in steps if s["status"] != "succeeded"]
    step = unfinished[0] if unfinished else (steps[-1] if steps else None)
    return f"{step['name']} ({step['status']})" if step else ""


def _note(op: dict[str, Any]) -> str:
    if op.get("error"):
        return str(op["error"].get("message", ""))
    if op.get("action"):
        return str(op["action"].get("message", ""))
    return ""


@ops.command("list")
def list_operations(
    status: Annotated[
        str | None,
        typer.Option(help="accepted, running, action_required, succeeded, failed or dead_letter."),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="purchase, change_seats, …")] = None,
    limit: Annotated[
        int | None, typer.Option(help="At most this many (1-200; API default 50).")
    ] = None,
    cursor: Annotated[
        str | None, typer.Option(help="The nextCursor a previous page gave, for the next page.")
    ] = None,
    url: Url = DEFAULT_URL,
    as_json: AsJson = False,
) -> None:
    """Operations, newest first: kind, status, the step it is at, and why it stopped."""
    params = {"status": status, "kind": kind, "cursor": cursor,
              "limit": str(limit) if limit is not None else None}  # fmt: skip
    page = run(lambda: _call(url, "GET", "/v1/operations",
                             **{k: v for k, v in params.items() if v is not None}))  # fmt: skip
    if as_json:
        print_json(page)
        return
    from rich import box
    from rich.table import Table

    table = Table("id", "kind", "status", "step", "updated (UTC)", "error or action",
                  box=box.SIMPLE_HEAD)  # fmt: skip
    for op in page["items"]:
        table.add_row(op["id"], op["kind"], op["status"], _current_step(op),
                      _when(op["updatedAt"]), _note(op))  # fmt: skip
    out = console()
    if page["items"]:
        out.print(table)
    else:
        out.print("no operations" + (" match" if status or kind else ""))
    if page.get("nextCursor"):
        out.print(f"more: pcgw ops list --cursor {page['nextCursor']}", highlight=False)


def _show(op: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    out = console()
    facts = Table(box=None, show_header=False)
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("id", op["id"])
    facts.add_row("kind", op["kind"])
    facts.add_row("status", op["status"])
    facts.add_row("created", _when(op["createdAt"]))
    facts.add_row("updated", _when(op["updatedAt"]))
    for name in ("error", "action", "result", "request"):
        if op.get(name):
            facts.add_row(name, json.dumps(op[name], indent=2, ensure_ascii=False))
    out.print(facts)
    steps = Table("step", "status", "attempts", "MS-RequestId", "started", "finished",
                  box=box.SIMPLE_HEAD)  # fmt: skip
    for s in op.get("steps") or []:
        steps.add_row(s["name"], s["status"], str(s["attempts"]), s["msRequestId"],
                      _when(s["startedAt"]), _when(s.get("finishedAt")))  # fmt: skip
    if op.get("steps"):
        out.print(steps)


@ops.command("show")
def show_operation(op_id: OperationId, url: Url = DEFAULT_URL, as_json: AsJson = False) -> None:
    """One operation: its status, steps, result, or error and the action it waits for."""
    op = run(lambda: _call(url, "GET", f"/v1/operations/{quote(op_id, safe='')}", op_id))
    if as_json:
        print_json(op)
    else:
        _show(op)


@ops.command("retry")
def retry_operation(op_id: OperationId, url: Url = DEFAULT_URL, as_json: AsJson = False) -> None:
    """Run a dead-lettered operation (or one that failed because Partner Center was
    unavailable) again, from the step where it stopped."""
    op = run(lambda: _call(url, "POST", f"/v1/operations/{quote(op_id, safe='')}/retry", op_id))
    if as_json:
        print_json(op)
    else:
        console().print(f"operation {op['id']} is {op['status']} again, from "
                        f"{_current_step(op) or 'its first step'}", highlight=False)  # fmt: skip
