"""Northbound API keys: one per marketplace, made, rotated and revoked by an operator with
``pcgw keys`` on the gateway's database (no server needed).

A key is ``pcgw_`` and 32 random bytes (urlsafe base64). Only its SHA-256 is stored: a slow
password hash (bcrypt, scrypt, argon2) exists to make guessing a *human-chosen* secret
expensive, but 256 random bits cannot be guessed at any speed, so a fast hash loses nothing —
and it lets the gateway find the key by an indexed equality lookup on every request, with no
per-key salt to try in turn and no ~100 ms of CPU per call. The store also keeps a short visible
prefix (``pcgw_`` and seven characters) so an operator can tell keys apart in a listing and in a
marketplace's configuration; the rest of the key is never shown again after it is made.

The key's ``name`` is the marketplace, and it is the journal ``owner`` of everything that
marketplace submits: renaming is not offered, because the name is what ownership hangs on.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

PREFIX = "pcgw_"
#: What a listing shows of a key: ``pcgw_`` and seven of its 43 random characters.
VISIBLE = len(PREFIX) + 7
#: The marketplace's name: the journal owner (at most 100 characters, like that column).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # fullmatch: "$" lets "\n" through
NAME_RULE = "1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
#: A Partner Center customer id, as the API's paths accept them.
CUSTOMER_ID = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)


class KeyRefused(Exception):
    """An operator's request that cannot be done (unknown or duplicate name, bad name)."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as ``pcgw keys list`` shows it: never the key, never its hash."""

    name: str
    prefix: str
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    #: After a rotation with ``--grace``: the previous key works until then.
    previous_until: datetime | None


class KeyStore(Protocol):
    """The keys table (``adapters.storage.SqlAccess``)."""

    async def key_owner(self, key_hash: str, now: datetime) -> str | None:
        """The marketplace whose live key (or previous key, inside its grace) has this hash."""

    async def any_keys(self) -> bool: ...

    async def insert_key(self, name: str, prefix: str, key_hash: str, now: datetime) -> bool:
        """``False`` when a key with this name exists (revoked or not)."""

    async def replace_key(
        self,
        name: str,
        prefix: str,
        key_hash: str,
        now: datetime,
        previous_until: datetime | None,
    ) -> bool:
        """New secret for ``name`` (un-revoking it); the old hash stays valid until
        ``previous_until`` when given. ``False`` when there is no such key."""

    async def revoke_key(self, name: str, now: datetime) -> KeyInfo | None:
        """Revoke ``name`` (and a previous key in its grace) unless it is revoked already;
        returns the key as it was before (``None``: no such key)."""

    async def list_keys(self) -> list[KeyInfo]: ...

    async def assign_customer(self, owner: str, customer_id: str) -> bool:
        """Give ``owner`` the customer; ``False`` when it already had it."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def looks_like_a_key(value: str) -> bool:
    """Cheap form check before any lookup: what ``new_key`` makes, and nothing longer."""
    return value.startswith(PREFIX) and 20 <= len(value) <= 100 and value.isascii()


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise KeyRefused(f"marketplace name {name!r} must be {NAME_RULE}")
    return name


async def create(store: KeyStore, name: str, now: datetime) -> str:
    """The new key, to be shown once."""
    check_name(name)
    key = new_key()
    if not await store.insert_key(name, key[:VISIBLE], hash_key(key), now):
        raise KeyRefused(f"a key named {name!r} exists already; `pcgw keys rotate {name}` gives "
                         "it a new secret")  # fmt: skip
    return key


async def rotate(store: KeyStore, name: str, now: datetime, grace_seconds: float = 0.0) -> str:
    """A new secret for ``name``; the old one stops working at once, or after
    ``grace_seconds`` (time to roll the new one out to the marketplace). Rotating a revoked key
    issues it afresh: revoke at once on a leak, rotate when the marketplace is ready."""
    if grace_seconds < 0:
        raise KeyRefused("--grace must be zero or more seconds")
    key = new_key()
    until = now + timedelta(seconds=grace_seconds) if grace_seconds > 0 else None
    if not await store.replace_key(name, key[:VISIBLE], hash_key(key), now, until):
        raise KeyRefused(_unknown(name))
    return key


async def revoke(store: KeyStore, name: str, now: datetime) -> None:
    before = await store.revoke_key(name, now)
    if before is None:
        raise KeyRefused(_unknown(name))
    if before.revoked_at is not None:
        raise KeyRefused(f"the key named {name!r} was already revoked on "
                         f"{before.revoked_at:%Y-%m-%d %H:%M:%S} UTC")  # fmt: skip


async def assign(store: KeyStore, name: str, customer_ids: list[str]) -> list[str]:
    """Give marketplace ``name`` customers the gateway did not bring in itself (served before
    the gateway, or moved between marketplaces by the distributor); returns those it did not
    already have. The customers' subscriptions that no marketplace bought or changed through
    the gateway come with them."""
    if not any(k.name == name for k in await store.list_keys()):
        raise KeyRefused(_unknown(name))
    for customer_id in customer_ids:  # all checked before any is given
        if not CUSTOMER_ID.fullmatch(customer_id):
            raise KeyRefused(f"customer id {customer_id!r} is not an id")
    added = []
    for customer_id in customer_ids:
        if await store.assign_customer(name, customer_id.lower()):
            added.append(customer_id)
    return added


def _unknown(name: str) -> str:
    return f"no key is named {name!r} (`pcgw keys list` shows them)"
