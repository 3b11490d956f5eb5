"""What must hold after any run of the gateway, however Partner Center misbehaved and however
often the gateway died: the promises a distributor's money depends on, checked against what
Partner Center (the simulator) ended up holding and what went over the wire.

Each check is a plain function of one :class:`Evidence` returning human-readable violations, so
a test asserts ``== []`` and the soak prints them; an empty list is the only passing answer.

- :func:`lost`: every operation the marketplace was given an id for is in the journal;
- :func:`unfinished`: every operation reached a final status, and a failure says why (a reason,
  and Microsoft's status and code where Microsoft answered);
- :func:`duplicated`: nothing was created or changed twice: one customer, cart, order and set of
  subscriptions per successful purchase, a write applied once per ``MS-RequestId`` (a repeat is
  answered from Partner Center's store and creates nothing), a PATCH counted once;
- :func:`half_done`: a failed operation left nothing behind that it does not report (no order
  of a failed purchase, no subscription changed by a failed change), and a successful change is
  really in Partner Center;
- :func:`foreign_request_ids`: every write went out under the ``MS-RequestId`` the journal holds
  for its step, on every attempt (a write re-sent under a new id would be a new request).

Only operation kinds these checks model are compared with Partner Center's state (new-tenant
purchases, seat changes, cancel, suspend, resume); every kind is checked for loss, finality and
request ids.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

#: Statuses nothing will move on without someone outside the gateway acting.
FINAL = ("succeeded", "failed", "action_required")
#: The write each Partner Center path is made by, for the request-id checks.
WRITE_STEPS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"^/v1/customers$"), "create_customer"),
    ("POST", re.compile(r"^/v1/customers/[^/]+/agreements$"), "accept_mca"),
    ("POST", re.compile(r"^/v1/customers/[^/]+/carts$"), "create_cart"),
    ("POST", re.compile(r"^/v1/customers/[^/]+/carts/[^/]+/checkout$"), "checkout"),
    ("PATCH", re.compile(r"^/v1/customers/[^/]+/subscriptions/([^/]+)$"), "update_subscription"),
)
#: Subscription changes whose effect on Partner Center's record :func:`half_done` can predict.
MODELLED_CHANGES = ("change_seats", "cancel", "suspend", "resume")
STATUS_AFTER = {"cancel": "deleted", "suspend": "suspended", "resume": "active"}


@dataclass(frozen=True)
class Evidence:
    """One run, as seen from both sides.

    ``submitted``: the operation ids the marketplace got a 202 for; ``operations``: the
    gateway's ``GET /v1/operations`` items; ``state``: ``GET /_sim/state`` after the run and
    ``baseline`` before it (``None``: an empty world); ``requests``: ``GET /_sim/requests``
    items, oldest first; ``requests_complete`` is false when the simulator's log (10,000 calls)
    may have dropped the oldest, and the checks that count over the whole log are skipped.
    """

    submitted: list[str]
    operations: list[dict[str, Any]]
    state: dict[str, Any]
    requests: list[dict[str, Any]]
    baseline: dict[str, Any] | None = None
    requests_complete: bool = True

    def new(self, kind: str) -> list[dict[str, Any]]:
        """The customers, carts, orders or subscriptions the run added to Partner Center."""
        key = "tenantId" if kind == "customers" else "id"
        before = {item[key] for item in (self.baseline or {}).get(kind, [])}
        return [item for item in self.state[kind] if item[key] not in before]

    def ops_of(self, *kinds: str) -> list[dict[str, Any]]:
        return [op for op in self.operations if op["kind"] in kinds]

    @cached_property
    def subscriptions(self) -> dict[str, dict[str, Any]]:
        return {s["id"]: s for s in self.state["subscriptions"]}

    @cached_property
    def expected(self) -> dict[str, _Expected]:
        """Each subscription a purchase of the run reports, as the changes that succeeded on it
        leave it (see :func:`_expected_subscriptions`)."""
        return _expected_subscriptions(self)


def violations(evidence: Evidence) -> list[str]:
    """Every check, in the order a reader wants them: lost, unfinished, duplicated, half done,
    foreign request ids."""
    checks: list[Callable[[Evidence], list[str]]] = [
        lost, unfinished, duplicated, half_done, foreign_request_ids,
    ]  # fmt: skip
    return [found for check in checks for found in check(evidence)]


# -- the journal -------------------------------------------------------------------------------


def lost(evidence: Evidence) -> list[str]:
    journaled = {op["id"] for op in evidence.operations}
    return [
        f"operation {op_id} was accepted (202) but is not in the journal"
        for op_id in evidence.submitted
        if op_id not in journaled
    ]


def unfinished(evidence: Evidence) -> list[str]:
    found = []
    answered = None  # with gaps in the log, an answer not found in it proves nothing
    if evidence.requests_complete:
        answered = {(r["msRequestId"], r["status"]) for r in evidence.requests if r["msRequestId"]}
    for op in evidence.operations:
        name = f"{op['kind']} {op['id']}"
        status = op["status"]
        if status not in FINAL:
            found.append(f"{name} is still {status}")
        elif status == "action_required":
            action = op.get("action") or {}
            if not (action.get("kind") and action.get("message")):
                found.append(f"{name} needs an action but does not say which: {action}")
        elif status == "failed":
            found += _unexplained(name, op.get("error") or {}, answered)
    return found


def _unexplained(
    name: str, error: dict[str, Any], answered: set[tuple[str, int]] | None
) -> list[str]:
    if not error.get("message"):
        return [f"{name} failed without a message: {error}"]
    upstream = error.get("partnerCenterStatus")
    if upstream is None:
        if not error.get("reason"):
            return [f"{name} failed with neither a reason nor Partner Center's answer: {error}"]
        return []
    found = []
    # Microsoft's throttling body carries no code; every other error body does.
    if upstream != 429 and error.get("partnerCenterCode") is None:
        found.append(f"{name} failed on a {upstream} from Partner Center without its code: {error}")
    request_id = error.get("msRequestId")
    # a 429 may be the gateway's own throttle, refusing to send the call at all
    if request_id and answered and upstream != 429 and (request_id, upstream) not in answered:
        found.append(f"{name} reports a {upstream} under MS-RequestId {request_id} that Partner "
                     "Center never answered")  # fmt: skip
    return found


# -- Partner Center's state ------------------------------------------------------------------


def _domain(op: dict[str, Any]) -> str | None:
    tenant = op["request"].get("customer", {}).get("newTenant")
    return f"{tenant['domainPrefix']}.onmicrosoft.com".lower() if tenant else None


def _by(items: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        grouped[str(item[key]).lower()].append(item)
    return grouped


def duplicated(evidence: Evidence) -> list[str]:
    found = []
    customers = _by(evidence.new("customers"), "domain")
    carts = _by(evidence.new("carts"), "customerId")
    orders = _by(evidence.new("orders"), "customerId")
    subs = _by(evidence.new("subscriptions"), "customerId")
    purchases = [op for op in evidence.ops_of("purchase") if _domain(op)]
    for op in purchases:
        domain = _domain(op)
        assert domain is not None
        made = customers.get(domain, [])
        if len(made) > 1:
            found.append(f"purchase {op['id']}: {len(made)} customers for {domain}")
        if len(made) != 1:
            continue
        customer = made[0]["tenantId"]
        if len(made[0]["agreements"]) > 1:
            found.append(f"purchase {op['id']}: {len(made[0]['agreements'])} MCA acceptances "
                         f"for {domain}")  # fmt: skip
        if len(carts.get(customer, [])) > 1:
            found.append(f"purchase {op['id']}: {len(carts[customer])} carts for {domain}")
        ordered = [o["id"] for o in orders.get(customer, [])]
        if op["status"] == "succeeded" and sorted(ordered) != sorted(op["result"]["orderIds"]):
            found.append(f"purchase {op['id']}: orders {ordered} for {domain}, the operation "
                         f"reports {op['result']['orderIds']}")  # fmt: skip
        elif len(ordered) > 1:
            found.append(f"purchase {op['id']}: {len(ordered)} orders for {domain}")
        bought = {s["id"] for s in subs.get(customer, [])}
        if op["status"] == "succeeded" and bought != set(op["result"]["subscriptionIds"]):
            found.append(f"purchase {op['id']}: subscriptions {sorted(bought)} for {domain}, the "
                         f"operation reports {sorted(op['result']['subscriptionIds'])}")  # fmt: skip
    claimed = {d for d in map(_domain, purchases) if d}
    found += [
        f"customer {c['tenantId']} ({c['domain']}) belongs to no purchase"
        for c in evidence.new("customers")
        if c["domain"].lower() not in claimed
    ]
    found += _applied_twice(evidence)
    found += _patched_twice(evidence)
    return found


def _applied_twice(evidence: Evidence) -> list[str]:
    """Each write Partner Center applied made one thing: as many new customers (carts, MCA
    acceptances, checked-out carts) as distinct ``MS-RequestId``s it answered 2xx for. More
    things than ids means a repeat was applied again instead of answered from the store."""
    if not evidence.requests_complete:
        return []
    applied: dict[str, set[str]] = defaultdict(set)
    for record in evidence.requests:
        step = _write_step(record)
        if step and record["method"] == "POST" and 200 <= record["status"] < 300:
            applied[step].add(record["msRequestId"])
    new_customers = evidence.new("customers")
    before = {c["tenantId"]: len(c["agreements"]) for c in (evidence.baseline or {}).get(
        "customers", [])}  # fmt: skip
    agreements = sum(
        len(c["agreements"]) - before.get(c["tenantId"], 0) for c in evidence.state["customers"]
    )
    counts = {
        "create_customer": ("customers", len(new_customers)),
        "accept_mca": ("MCA acceptances", agreements),
        "create_cart": ("carts", len(evidence.new("carts"))),
        "checkout": (
            "checked-out carts",
            sum(1 for c in evidence.new("carts") if c["status"] == "Ordered"),
        ),
    }
    found = []
    for step, (what, made) in counts.items():
        ids = len(applied[step])
        if made != ids:
            found.append(f"{made} {what} from {ids} distinct MS-RequestIds Partner Center applied")
    return found


def _patched_twice(evidence: Evidence) -> list[str]:
    """Partner Center counts every PATCH that changed a subscription; a change applied twice
    (or a repeat that changed it again) shows as more updates than changes."""
    found = []
    for sub_id, expected in evidence.expected.items():
        sub = evidence.subscriptions.get(sub_id)
        if sub is None or expected.updates is None:
            continue
        if sub["updates"] > expected.updates:
            found.append(f"subscription {sub_id}: {sub['updates']} updates for "
                         f"{expected.updates} changes that succeeded")  # fmt: skip
    return found


def half_done(evidence: Evidence) -> list[str]:
    found = []
    customers = _by(evidence.new("customers"), "domain")
    orders = _by(evidence.new("orders"), "customerId")
    subs = _by(evidence.new("subscriptions"), "customerId")
    for op in evidence.ops_of("purchase"):
        domain = _domain(op)
        if domain is None or op["status"] == "succeeded":
            continue
        made = customers.get(domain, [])
        reported = op["result"].get("customerId")
        for customer in made:
            tenant = customer["tenantId"]
            if tenant != reported:
                found.append(f"{op['status']} purchase {op['id']} left customer {tenant} "
                             f"({domain}) that it does not report")  # fmt: skip
            if op["status"] == "failed" and (orders.get(tenant) or subs.get(tenant)):
                found.append(f"failed purchase {op['id']} left an order or subscription for "
                             f"{domain}")  # fmt: skip
    for sub_id, expected in evidence.expected.items():
        sub = evidence.subscriptions.get(sub_id)
        if sub is None:
            found.append(f"subscription {sub_id}, reported bought, is not in Partner Center")
            continue
        if expected.updates is None:
            continue
        actual = (sub["quantity"], sub["status"])
        if actual != (expected.quantity, expected.status):
            found.append(f"subscription {sub_id} is {actual[0]} seats, {actual[1]}; its "
                         f"operations that succeeded leave {expected.quantity}, "
                         f"{expected.status} ({', '.join(expected.history) or 'none'})")  # fmt: skip
        elif sub["updates"] < expected.updates:
            found.append(f"subscription {sub_id}: {sub['updates']} updates for "
                         f"{expected.updates} changes that succeeded")  # fmt: skip
    return found


@dataclass(slots=True)
class _Expected:
    quantity: int
    status: str = "active"
    #: ``None`` once an operation the model does not know touched it: no comparison then.
    updates: int | None = 0
    history: list[str] = field(default_factory=list)


def _expected_subscriptions(evidence: Evidence) -> dict[str, _Expected]:
    """Replays each purchased subscription through the changes that succeeded on it, in the
    order the marketplace made them (each one after the one before had finished)."""
    expected: dict[str, _Expected] = {}
    for op in evidence.ops_of("purchase"):
        if op["status"] != "succeeded":
            continue
        lines = op["request"].get("resolvedLines") or op["request"].get("lines") or []
        ids = op["result"].get("subscriptionIds", [])
        quantity = lines[0]["quantity"] if len(lines) == 1 and len(ids) == 1 else None
        for sub_id in ids:
            expected[sub_id] = _Expected(quantity or 0, updates=0 if quantity else None)
    changes = [op for op in evidence.operations if op["request"].get("subscriptionId")]
    for op in sorted(changes, key=lambda o: o["createdAt"]):
        model = expected.get(op["request"]["subscriptionId"])
        if model is None or model.updates is None or op["status"] != "succeeded":
            continue
        if op["kind"] not in MODELLED_CHANGES:
            model.updates = None
            continue
        before = (model.quantity, model.status)
        if op["kind"] == "change_seats":
            model.quantity = op["request"]["quantity"]
        else:
            model.status = STATUS_AFTER[op["kind"]]
        model.history.append(op["kind"])
        if (model.quantity, model.status) != before:
            model.updates += 1
    return expected


# -- the wire --------------------------------------------------------------------------------


def _write_step(record: dict[str, Any]) -> str | None:
    """The step a journaled write is made by, for a call the gateway sent (it carries an
    ``MS-RequestId``); ``None`` for reads and for calls made outside the gateway."""
    if not record.get("msRequestId"):
        return None
    for method, pattern, step in WRITE_STEPS:
        if record["method"] == method and pattern.match(record["path"]):
            return step
    return None


def foreign_request_ids(evidence: Evidence) -> list[str]:
    """A write whose ``MS-RequestId`` is not its step's journaled one was re-sent as a new
    request (a crash that lost the id, a retry that made a fresh one): Partner Center cannot
    tell it from a second purchase."""
    steps: dict[str, tuple[str, dict[str, Any]]] = {}
    for op in evidence.operations:
        for step in op["steps"]:
            steps[step["msRequestId"]] = (step["name"], op)
    found = []
    for record in evidence.requests:
        step = _write_step(record)
        if step is None:
            continue
        owner = steps.get(record["msRequestId"])
        call = f"{record['method']} {record['path']} ({record['status']})"
        if owner is None or owner[0] != step:
            holder = f"step {owner[0]} of {owner[1]['id']}" if owner else "no journaled step"
            found.append(f"{call} went out under MS-RequestId {record['msRequestId']}, which "
                         f"{holder} holds")  # fmt: skip
            continue
        if step == "update_subscription":
            match = WRITE_STEPS[-1][1].match(record["path"])
            assert match is not None
            if match.group(1) != owner[1]["request"].get("subscriptionId"):
                found.append(f"{call} is not the subscription operation {owner[1]['id']} "
                             "changes")  # fmt: skip
    return found
