"""``pcgw sim``: serve the simulator, or drive a running one over HTTP.

Bare (``pcgw sim --port 8081``) it is the simulator's own command: this process becomes
``python -m simulator`` with the same arguments (the gateway never imports the simulator; the
two meet only over HTTP). With a command first, it drives a simulator that is already running:
``seed`` fills it through its control plane (partners, tenants) and its Partner Center API (the
agreement, carts and checkouts, as a partner would buy), ``advance`` moves its clock, and
``snapshot``/``restore`` save its world to a file and bring it back. The URL comes from
``--url`` or PCSIM_URL, the control key from PCSIM_CONTROL_KEY or PCSIM_CONTROL_KEY_FILE.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from gateway.cli_http import (
    Answer,
    Connection,
    Failed,
    Server,
    console,
    print_json,
    run,
    secret,
    write_atomically,
)

if TYPE_CHECKING:  # the click typer ships (and types its groups with) is its own copy
    from typer._click.core import Context as ClickContext

#: Tells ``python -m simulator`` to name itself ``pcgw sim`` in its help (the simulator reads it).
PROG_NAME_VARIABLE = "PCSIM_PROG_NAME"

#: The simulator's seeded indirect provider, which `pcgw up` signs in as and `pcgw sim seed`
#: buys as.
SIM_PROVIDER = {
    "pc_tenant_id": "4c2b1f3e-7d6a-4e5b-9c8d-000000000001",
    "pc_client_id": "11111111-1111-4111-8111-111111111111",
    "pc_client_secret": "provider-secret",
}
#: Microsoft's Customer Agreement template (``GET /v1/agreements``), accepted for each customer.
MCA_TEMPLATE = "117a77b0-9360-443b-8795-c6dedc750cf9"
#: What ``seed`` buys: Microsoft 365 Business Basic, one year billed monthly.
SEED_OFFER = "CFQ7TTC0LH18:0001:CFQ7TTC0K971"

_SERVE_ARGS = "pcgw.sim.serve_args"


class _ServeOrCommand(TyperGroup):
    """``pcgw sim ARGS``: a command of this group when ARGS starts with one; otherwise every
    argument (``--port 8081``, ``--help``) is the simulator's own."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            return super().parse_args(ctx, args)
        ctx.meta[_SERVE_ARGS] = list(args)
        return super().parse_args(ctx, [])


sim = typer.Typer(cls=_ServeOrCommand, add_completion=False)


@sim.callback(invoke_without_command=True)
def serve(ctx: typer.Context) -> None:
    """Serve the Partner Center simulator (its options: `pcgw sim --help`), or drive a running
    one: seed, advance, snapshot, restore."""
    if ctx.invoked_subcommand is not None:
        return
    args = [sys.executable, "-m", "simulator", *ctx.meta.get(_SERVE_ARGS, [])]
    env = {**os.environ, PROG_NAME_VARIABLE: "pcgw sim"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, args, env)


DEFAULT_URL = "http://127.0.0.1:8081"
Url = Annotated[
    str, typer.Option("--url", help="The running simulator's base URL.", envvar="PCSIM_URL")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the simulator's JSON answer.")]


def simulator(url: str) -> Server:
    url = url.rstrip("/")
    key = secret("PCSIM_CONTROL_KEY")
    return Server(
        url=url,
        down=f"no simulator at {url}: is `pcgw sim` running?",
        unauthorized=(
            f"the simulator at {url} "
            + ("refused the control key" if key else "wants its control key")
            + ": set PCSIM_CONTROL_KEY (or PCSIM_CONTROL_KEY_FILE) to the key it was started with"
        ),
        headers={"X-Sim-Key": key} if key else {},
    )


class Simulator:
    """A command's calls to one simulator: the control plane, and Partner Center as the seeded
    provider (signed in on first use, again if the token runs out)."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.server = conn, conn.server
        self._token: str | None = None

    def _refused(self, answer: Answer, path: str) -> Failed:
        try:
            body = json.loads(answer.body)
            description, source = str(body["description"]), body.get("source")
        except (ValueError, KeyError, TypeError):
            return Failed(f"the simulator answered {answer.status} to {path}")
        if answer.status == 401 and path.startswith("/_sim"):
            return Failed(self.server.unauthorized, 2)
        if answer.status == 404 and path.startswith("/_sim") and source != "Simulator":
            return Failed(f"the simulator at {self.server.url} serves no control plane (started "
                          "with --no-control or PCSIM_CONTROL=off)", 2)  # fmt: skip
        return Failed(description.removeprefix("Invalid request input: "))

    async def control(
        self, method: str, path: str, body: Any = None, *, data: bytes | None = None
    ) -> Any:
        headers = {"Content-Type": "application/json"} if data is not None else None
        answer = await self.conn.call(method, path, json_body=body, data=data, headers=headers)
        if answer.status >= 300:
            raise self._refused(answer, path)
        return answer.json()

    async def _sign_in(self) -> str:
        tenant = SIM_PROVIDER["pc_tenant_id"]
        answer = await self.conn.call("POST", f"/{tenant}/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": SIM_PROVIDER["pc_client_id"],
            "client_secret": SIM_PROVIDER["pc_client_secret"],
            "resource": "https://api.partnercenter.microsoft.com",
        })  # fmt: skip
        if answer.status != 200:
            raise Failed(f"cannot sign in to the simulator as its seeded provider "
                         f"({answer.status}): was it started with its default partners?")  # fmt: skip
        return str(answer.json()["access_token"])

    async def partner(self, method: str, path: str, body: Any = None) -> Any:
        for _ in range(2):
            if self._token is None:
                self._token = await self._sign_in()
            answer = await self.conn.call(method, path, json_body=body,
                                          headers={"Authorization": f"Bearer {self._token}"})  # fmt: skip
            if answer.status != 401:
                break
            self._token = None
        if answer.status >= 300:
            raise self._refused(answer, path)
        return answer.json()


# -- seed ------------------------------------------------------------------------------------------

PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,40}[a-z0-9])?$")


async def _seed(
    url: str, customers: int, per_customer: int, partners: int, seats: int, prefix: str,
    country: str,
) -> dict[str, Any]:  # fmt: skip
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    async with Connection(simulator(url)) as conn:
        s = Simulator(conn)
        now = (await s.control("GET", "/_sim/clock"))["now"]
        limit = (await s.control("GET", "/_sim/config"))["rateLimitPerMinute"]
        made: dict[str, Any] = {"partners": [], "customers": [], "subscriptions": []}
        progress = Progress(
            TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console(stderr=True),
        )  # fmt: skip
        if limit:  # thousands of calls from one partner: lift the limit while seeding
            await s.control("PUT", "/_sim/config", {"rateLimitPerMinute": 0})
        try:
            with progress:
                bars = {
                    "partners": progress.add_task("partners", total=partners),
                    "customers": progress.add_task("customers", total=customers),
                    "subscriptions": progress.add_task(
                        "subscriptions", total=customers * per_customer
                    ),
                }
                resellers = []
                for n in range(1, partners + 1):
                    try:
                        made_partner = await s.control("POST", "/_sim/partners", {
                            "name": f"{prefix.capitalize()} Reseller {n}",
                            "kind": "indirect_reseller", "country": country,
                            "domain": f"{prefix}-reseller-{n}.onmicrosoft.com",
                        })  # fmt: skip
                    except Failed as exc:
                        raise _taken(exc, prefix) from None
                    await s.control(
                        "POST",
                        f"/_sim/partners/{made_partner['tenantId']}/accept-provider-invitation",
                        {"providerTenantId": SIM_PROVIDER["pc_tenant_id"]},
                    )
                    resellers.append(made_partner)
                    made["partners"].append(
                        {k: made_partner[k] for k in ("tenantId", "mpnId", "name")}
                    )
                    progress.advance(bars["partners"])
                for n in range(1, customers + 1):
                    reseller = resellers[(n - 1) % len(resellers)] if resellers else None
                    tenant = await _customer(s, n, prefix, country, now, reseller)
                    made["customers"].append(tenant)
                    progress.advance(bars["customers"])
                    if per_customer:
                        subs = await _buy(s, tenant, per_customer, seats, reseller)
                        made["subscriptions"] += subs
                        progress.advance(bars["subscriptions"], len(subs))
        finally:
            if limit:
                await s.control("PUT", "/_sim/config", {"rateLimitPerMinute": limit})
        return made


def _taken(exc: Failed, prefix: str) -> Failed:
    if "already in use" not in exc.message:
        return exc
    return Failed(f"{exc.message}: this simulator was seeded with --prefix {prefix} before; "
                  "seed again with another --prefix")  # fmt: skip


async def _customer(
    s: Simulator, n: int, prefix: str, country: str, now: str, reseller: dict[str, Any] | None
) -> str:
    """A customer tenant related to the provider (through ``reseller``), MCA accepted."""
    domain = f"{prefix}{n:05d}.onmicrosoft.com"
    try:
        made = await s.control("POST", "/_sim/tenants", {
            "domain": domain, "companyName": f"{prefix.capitalize()} Customer {n}",
            "country": country,
        })  # fmt: skip
    except Failed as exc:
        raise _taken(exc, prefix) from None
    tenant = str(made["tenantId"])
    relationship: dict[str, str] = {"partnerTenantId": SIM_PROVIDER["pc_tenant_id"]}
    if reseller is not None:
        relationship["indirectResellerTenantId"] = reseller["tenantId"]
    await s.control("POST", f"/_sim/tenants/{tenant}/accept-relationship", relationship)
    await s.partner("POST", f"/v1/customers/{tenant}/agreements", {
        "primaryContact": {"firstName": "Seed", "lastName": "Admin", "email": f"admin@{domain}"},
        "templateId": MCA_TEMPLATE, "dateAgreed": now, "type": "MicrosoftCustomerAgreement",
    })  # fmt: skip
    return tenant


async def _buy(
    s: Simulator, tenant: str, count: int, seats: int, reseller: dict[str, Any] | None
) -> list[str]:
    """``count`` subscriptions in one cart and one checkout; their ids."""
    participants = [{"key": "transaction_reseller", "value": reseller["mpnId"]}] if reseller else []
    lines = [
        {"catalogItemId": SEED_OFFER, "quantity": seats, "termDuration": "P1Y",
         "billingCycle": "monthly", "participants": participants}
        for _ in range(count)
    ]  # fmt: skip
    cart = await s.partner("POST", f"/v1/customers/{tenant}/carts", {
        "lineItems": lines, "partnerOnRecordAttestationAccepted": True,
    })  # fmt: skip
    done = await s.partner("POST", f"/v1/customers/{tenant}/carts/{cart['id']}/checkout")
    return [line["subscriptionId"] for order in done["orders"] for line in order["lineItems"]]


@sim.command("seed")
def seed(
    customers: Annotated[int, typer.Option(min=0, help="Customer tenants to create.")] = 10,
    subscriptions_per_customer: Annotated[
        int, typer.Option(min=0, help="Subscriptions each customer buys (one checkout).")
    ] = 1,
    partners: Annotated[
        int,
        typer.Option(
            min=0,
            help="Indirect resellers to create, related to the seeded provider; "
            "customers are spread over them (0: bought without a reseller).",
        ),
    ] = 1,
    seats: Annotated[int, typer.Option(min=1, help="Seats in each subscription.")] = 1,
    prefix: Annotated[
        str, typer.Option(help="Start of every domain made (PREFIX00001.onmicrosoft.com, …).")
    ] = "seed",
    country: Annotated[str, typer.Option(help="Country of the customers and resellers.")] = "US",
    url: Url = DEFAULT_URL,
    as_json: AsJson = False,
) -> None:
    """Fill a running simulator: resellers and customer tenants through its control plane, then
    the customers' agreement, carts and checkouts through Partner Center's API as the seeded
    indirect provider (Microsoft 365 Business Basic, P1Y monthly). The simulator's rate limit is
    lifted while seeding and put back after."""
    if not PREFIX.match(prefix):
        typer.echo(f"error: --prefix {prefix!r} must be lower-case letters, digits and "
                   "hyphens (at most 42), as a domain label", err=True)  # fmt: skip
        raise typer.Exit(2)
    made = run(lambda: _seed(url, customers, subscriptions_per_customer, partners, seats, prefix,
                             country.upper()))  # fmt: skip
    if as_json:
        print_json(made)
        return
    typer.echo(f"seeded {len(made['partners'])} reseller(s), {len(made['customers'])} "
               f"customer(s) and {len(made['subscriptions'])} subscription(s) at {url}")  # fmt: skip


# -- advance -----------------------------------------------------------------------------------------

_SHORT = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def iso_duration(text: str) -> str:
    """``P7D``/``PT1H`` as given, or the short form (``7d``, ``1h``, ``1d12h``, ``2w``, ``90s``)
    as ISO 8601; anything else is exit 2 with both forms shown."""
    raw = text.strip()
    if raw[:1] in ("P", "p"):
        return raw.upper()
    match = _SHORT.match(raw.lower())
    if not raw or match is None:
        raise Failed(f"DURATION {text!r} must be ISO 8601 (P7D, PT1H, P1DT12H) or short "
                     "(7d, 1h, 30m, 1d12h, 2w)", 2)  # fmt: skip
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    days += 7 * weeks
    clock = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if v)
    out = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return out if out != "P" else "PT0S"


async def _advance(url: str, body: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The clock before, and the simulator's answer to the move."""
    async with Connection(simulator(url)) as conn:
        s = Simulator(conn)
        before = (await s.control("GET", "/_sim/clock"))["now"]
        return before, dict(await s.control("POST", "/_sim/clock/advance", body))


@sim.command("advance")
def advance(
    duration: Annotated[
        str | None,
        typer.Argument(
            help="How far: ISO 8601 (P7D, PT1H) or short (7d, 1h, 1d12h).", show_default=False
        ),
    ] = None,
    to: Annotated[
        str | None, typer.Option(help="Move to this instant instead, e.g. 2027-01-05T00:00:00Z.")
    ] = None,
    url: Url = DEFAULT_URL,
    as_json: AsJson = False,
) -> None:
    """Move the simulator's clock: every window, renewal, expiry and transfer due on the way
    happens, in order, and is listed."""
    if (duration is None) == (to is None):
        typer.echo("error: give a DURATION (7d, PT1H) or --to INSTANT, not both", err=True)
        raise typer.Exit(2)

    async def work() -> tuple[str, dict[str, Any]]:
        body = {"to": to} if to is not None else {"by": iso_duration(duration or "")}
        return await _advance(url, body)

    before, moved = run(work)
    if as_json:
        print_json(moved)
        return
    from rich import box
    from rich.table import Table

    out = console()
    events = moved["events"]
    out.print(f"clock {before} → {moved['now']}: {len(events)} event(s)", highlight=False)
    if events:
        table = Table("at", "event", "resource", box=box.SIMPLE_HEAD)
        for e in events:
            table.add_row(e["at"], e["type"], e["resourceUri"])
        out.print(table)


# -- snapshot, restore -----------------------------------------------------------------------------

FileArg = Annotated[Path, typer.Argument(help="The snapshot file.", dir_okay=False)]


def _summary(document: Any) -> str:
    world = document.get("world", {}) if isinstance(document, dict) else {}
    counts = ", ".join(f"{len(world.get(k) or [])} {k}" for k in ("customers", "subscriptions"))
    return f"{counts}; clock at {world.get('now')}"


@sim.command("snapshot")
def snapshot(file: FileArg, url: Url = DEFAULT_URL) -> None:
    """Save the running simulator's world to FILE (JSON; written to a temporary file, then
    renamed, readable by you only: it holds the partners' secrets)."""

    async def work() -> bytes:
        async with Connection(simulator(url)) as conn:
            answer = await conn.call("GET", "/_sim/snapshot")
            if answer.status != 200:
                raise Simulator(conn)._refused(answer, "/_sim/snapshot")
            return answer.body

    data = run(work)
    try:
        write_atomically(file, data)
    except Failed as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(exc.code) from None
    typer.echo(f"saved {file} ({len(data):,} bytes): {_summary(json.loads(data))}")


@sim.command("restore")
def restore(file: FileArg, url: Url = DEFAULT_URL) -> None:
    """Replace the running simulator's world with the one saved in FILE. A file of another
    format or version is refused (exit 1) and the running world stays as it was."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None

    async def work() -> None:
        async with Connection(simulator(url)) as conn:
            try:
                await Simulator(conn).control("POST", "/_sim/snapshot", data=data)
            except Failed as exc:
                raise Failed(f"{file}: {exc.message}" if exc.code == 1 else exc.message,
                             exc.code) from None  # fmt: skip

    run(work)
    try:
        summary = _summary(json.loads(data))
    except ValueError:
        summary = "restored"
    typer.echo(f"restored {file} at {url}: {summary}")
