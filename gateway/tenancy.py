"""Which marketplace may see which customer and subscription.

Ownership is learnt from the journal, never asked of Partner Center (where every customer is
the distributor's): when an operation's result is saved, the customer and subscriptions it
created, found or changed are recorded for the operation's owner, in the same transaction
(``claims``, called by the journal's ``save``). So:

- a new-tenant purchase owns its customer from the step that created it, and its
  subscriptions once provisioned; an existing-tenant purchase or an incoming transfer owns the
  customer it found by domain (a customer may so have several marketplaces), and the
  subscriptions it bought or brought in;
- a subscription has one owner: the first marketplace whose operation bought, brought in or
  successfully changed it. Subscriptions no marketplace has touched through the gateway (legacy
  ones, ones bought before the gateway) are visible to every owner of their customer, until one
  of them changes one;
- customers the gateway never met are nobody's until an operator runs ``pcgw keys assign``.

Everything another marketplace owns, or nobody does, answers exactly as a missing resource
(404, same body), so a key learns nothing about what it may not see. With ``PCGW_AUTH=off``
nothing is checked (one implicit marketplace sees everything) but ownership is still recorded.

The checks themselves are ``gateway.api.tenancy``'s, made by the handlers before anything else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from gateway.journal import Operation, Status

#: Result fields naming subscriptions an operation bought, brought in or came to hold.
_RESULT_SUBSCRIPTIONS = ("subscriptionIds", "upgradedSubscriptionId", "legacySubscriptionId",
                         "sourceSubscriptionId", "subscriptionId")  # fmt: skip
#: Request fields naming subscriptions, owned once the operation on them has succeeded.
_REQUEST_SUBSCRIPTIONS = ("subscriptionId", "toSubscriptionId")


@dataclass(frozen=True, slots=True)
class Claims:
    customer_id: str
    subscription_ids: tuple[str, ...]


class OwnerStore(Protocol):
    """The ownership tables (``adapters.storage.SqlAccess``); ids are kept lower-case."""

    async def owns_customer(self, owner: str, customer_id: str) -> bool: ...

    async def subscription_owners(self, subscription_ids: Iterable[str]) -> dict[str, str]:
        """Owner of each of these subscriptions that has one."""


def _ids(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.lower() for v in values if isinstance(v, str) and v]


def claims(op: Operation) -> Claims | None:
    """What ``op`` makes its owner own, as far as it got: ids in its result are Partner
    Center's own answers; ids its request named count only once it succeeded (a change that
    failed on a subscription that is not there claims nothing)."""
    subscriptions = [s for name in _RESULT_SUBSCRIPTIONS for s in _ids(op.result.get(name))]
    succeeded = op.status is Status.SUCCEEDED
    if succeeded:
        subscriptions += [s for name in _REQUEST_SUBSCRIPTIONS for s in _ids(op.request.get(name))]
    customer = _ids(op.result.get("customerId"))
    if not customer and (succeeded or subscriptions):
        customer = _ids(op.request.get("customerId"))
    if not customer:
        return None
    return Claims(customer[0], tuple(dict.fromkeys(subscriptions)))
