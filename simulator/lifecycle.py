"""What time does to a subscription: terms, windows, renewals, expiry.

Dates follow Microsoft: a term that starts on day D ends on ``D + term - 1 day`` (inclusive, so
``commitmentEndDate`` is that day at ``T00:00:00Z``); the renewal starts at 00:00 UTC the next day,
stays in progress for ``renewalProcessing`` and, when it completes, opens a new 168-hour window
from that moment. With auto-renew off the subscription expires at that same midnight, then turns
``disabled`` 30 days later and ``deleted`` 90 days after that. A trial's renewal is its
conversion: the same subscription becomes the paid SKU its trial upgrades to, P1Y billed monthly,
with a new term and window from that moment (event ``trialConverted`` instead of
``renewalCompleted``). Legacy CSP subscriptions (``simulator.legacy``) never renew: they expire
at term end even with auto-renew on, and one still suspended then is left to its own 90-day
deletion.

Each function here schedules a clock event that re-checks the subscription when it fires, so a
stale event (the term already moved, the subscription already gone) does nothing.

LIMITATIONS:
- A subscription still suspended at term end becomes ``expired`` like any subscription with
  auto-renew off (the contract's rule); Microsoft documents ``disabled`` for that case.
- A renewal always succeeds; renewals never fail or stay queued beyond ``renewalProcessing``.
- A trial without scheduled instructions converts to the first of its ``upgradeTargetOffers``
  that offers P1Y/monthly. The trial's term is its catalog term (P1M), not exactly 30 days.
- ``trialConverted``, ``subscriptionDisabled``, ``subscriptionDeleted`` and
  ``billingCycleChanged`` extend the contract's minimum list of event types.
- Cycle charges (the simulator's model, no source pins it): a subscription is charged at 00:00
  UTC on every billing-period boundary inside its term (monthly: each month from the term's
  start day; annual: each year; triennial: only the term start). A charge stays in progress
  for ``renewalProcessing``, like a renewal; then a pending ``nextChargeInstructions`` billing
  cycle takes effect. A change due after the last charge of the term waits for the renewal.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

from simulator import catalog
from simulator.clock import Handler, event
from simulator.models import SeatBatch, Subscription
from simulator.world import World

TERM_MONTHS = {"P1M": 1, "P1Y": 12, "P3Y": 36}
DISABLE_AFTER = timedelta(days=30)
DELETE_AFTER = timedelta(days=90)
TRIAL_CONVERSION = ("P1Y", "monthly")
#: Legacy CSP license subscriptions (``simulator.legacy``): since the 11 July 2022 cutover
#: commercial ones expire at term end even with auto-renew on (education, government and
#: non-profit ones still renew, with no windows), and a suspended one waits for its deletion.
LEGACY_PRODUCT_TYPE = "OnlineServices"


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def term_end(start: date, term: str) -> date:
    """The inclusive last day of a term that starts on ``start``."""
    return add_months(start, TERM_MONTHS[term]) - timedelta(days=1)


def midnight_after(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def uri(sub: Subscription) -> str:
    return f"/customers/{sub.customer_id}/subscriptions/{sub.id}"


def schedule_term_end(world: World, sub: Subscription) -> None:
    """Schedule only the end of the current term (after the term moved, e.g. an upgrade to a
    longer term), leaving the cancellation window's event alone."""
    if sub.commitment_end is not None:
        world.clock.schedule(
            midnight_after(sub.commitment_end), _term_over(world, sub.id, sub.commitment_end)
        )


def schedule_term(world: World, sub: Subscription) -> None:
    """Schedule the close of the current window and the end of the current term."""
    if sub.cancellation_until is not None and sub.cancellation_until >= world.now:
        world.clock.schedule(
            sub.cancellation_until, _window_closed(world, sub.id, sub.cancellation_until)
        )
    if sub.commitment_end is not None:
        world.clock.schedule(
            midnight_after(sub.commitment_end), _term_over(world, sub.id, sub.commitment_end)
        )


@event("lifecycle.window_closed")
def _window_closed(world: World, sub_id: str, expected: datetime) -> Handler:
    def fire() -> list[tuple[str, str]]:
        sub = world.subscriptions.get(sub_id)
        if sub is None or sub.cancellation_until != expected or sub.status == "deleted":
            return []
        return [("cancellationWindowClosed", uri(sub))]

    return fire


@event("lifecycle.term_over")
def _term_over(world: World, sub_id: str, expected: date) -> Handler:
    def fire() -> list[tuple[str, str]]:
        sub = world.subscriptions.get(sub_id)
        if sub is None or sub.commitment_end != expected:
            return []
        legacy = sub.product_type == LEGACY_PRODUCT_TYPE
        if legacy and sub.status == "suspended":
            return []
        if (
            sub.status == "active"
            and sub.auto_renew
            and (not legacy or sub.segment != "commercial")
        ):
            sub.renewing_since = world.now
            sub.version += 1
            world.clock.schedule(
                world.now + world.config.renewal_processing, _renewal_done(world, sub_id, expected)
            )
            return [("renewalStarted", uri(sub))]
        if sub.status in ("active", "suspended"):
            _set_status(world, sub, "expired")
            world.clock.schedule(world.now + DISABLE_AFTER, _expiry_step(world, sub_id, "expired"))
            return [("subscriptionExpired", uri(sub))]
        return []

    return fire


@event("lifecycle.renewal_done")
def _renewal_done(world: World, sub_id: str, expected: date) -> Handler:
    def fire() -> list[tuple[str, str]]:
        sub = world.subscriptions.get(sub_id)
        if sub is None or sub.renewing_since is None or sub.commitment_end != expected:
            return []
        now = world.now
        was_trial = sub.is_trial
        _apply_next_charge(sub)
        custom_end = apply_scheduled(sub)
        converted = was_trial and (not sub.is_trial or _convert_trial(sub))
        start = expected + timedelta(days=1)
        sub.effective_start = datetime(start.year, start.month, start.day, tzinfo=UTC)
        sub.commitment_end = custom_end or term_end(start, sub.term_duration or "P1Y")
        sub.renewing_since = None
        if sub.product_type != LEGACY_PRODUCT_TYPE:  # legacy subscriptions have no windows
            window = now + world.config.cancellation_window
            sub.cancellation_until = window
            sub.seat_batches = [SeatBatch(sub.quantity, window)]
        sub.version += 1
        schedule_term(world, sub)
        return [("trialConverted" if converted else "renewalCompleted", uri(sub))]

    return fire


def _apply_next_charge(sub: Subscription) -> None:
    """A billing-cycle change still pending at the renewal takes effect with the new term."""
    if sub.next_charge is not None:
        sub.billing_cycle = sub.next_charge["product"]["billingCycle"]
        sub.next_charge = None


def apply_scheduled(sub: Subscription) -> date | None:
    """Turn the subscription into what its ``scheduledNextTermInstructions`` ask (offer, seats,
    term, billing) and clear them; returns the co-terminous end date they asked for, if any."""
    instructions, sub.scheduled_next_term = sub.scheduled_next_term, None
    if instructions is None:
        return None
    product = instructions["product"]
    sku = catalog.load().find(
        f"{product['productId']}:{product['skuId']}:{product['availabilityId']}"
    )
    if sku is None:  # the catalog is fixed, so instructions checked on PATCH always resolve
        return None
    if sub.friendly_name == sub.offer_name:
        sub.friendly_name = sku.title
    sub.catalog_item_id, sub.offer_name = sku.catalog_item_id, sku.title
    sub.quantity = int(instructions["quantity"])
    sub.term_duration, sub.billing_cycle = product["termDuration"], product["billingCycle"]
    sub.is_trial = False
    custom = instructions.get("customTermEndDate")
    return date.fromisoformat(custom[:10]) if custom else None


def _convert_trial(sub: Subscription) -> bool:
    """A trial's renewal turns it, same id, into the paid SKU it upgrades to, on Microsoft's
    default conversion term (P1Y billed monthly)."""
    items = catalog.load()
    trial = items.find(sub.catalog_item_id)
    paid = None
    for ref in trial.upgrade_targets if trial else ():
        product_id, _, sku_id = ref.partition(":")
        paid = next((s for s in items.products.get(product_id, []) if s.id == sku_id), None)
        if paid is not None and not paid.is_trial and paid.offers(*TRIAL_CONVERSION):
            break
        paid = None
    if paid is None:
        return False
    if sub.friendly_name == sub.offer_name:
        sub.friendly_name = paid.title
    sub.catalog_item_id, sub.offer_name = paid.catalog_item_id, paid.title
    sub.term_duration, sub.billing_cycle = TRIAL_CONVERSION
    sub.is_trial = False
    return True


@event("lifecycle.expiry_step")
def _expiry_step(world: World, sub_id: str, expected_status: str) -> Handler:
    def fire() -> list[tuple[str, str]]:
        sub = world.subscriptions.get(sub_id)
        if sub is None or sub.status != expected_status:
            return []
        if expected_status == "expired":
            _set_status(world, sub, "disabled")
            world.clock.schedule(world.now + DELETE_AFTER, _expiry_step(world, sub_id, "disabled"))
            return [("subscriptionDisabled", uri(sub))]
        _set_status(world, sub, "deleted")
        return [("subscriptionDeleted", uri(sub))]

    return fire


def _set_status(world: World, sub: Subscription, status: str) -> None:
    sub.status = status
    sub.status_since = world.now
    sub.auto_renew = False
    sub.version += 1


# -- cycle charges ---------------------------------------------------------------------------

CYCLE_MONTHS = {"monthly": 1, "annual": 12, "triennial": 36}


def charge_days(sub: Subscription) -> list[date]:
    """The days inside the current term (not its first) on which a charge for the next billing
    period is taken."""
    months = CYCLE_MONTHS.get(sub.billing_cycle)
    if months is None or sub.commitment_end is None:
        return []
    start = sub.effective_start.date()
    days = []
    k = 1
    while (day := add_months(start, months * k)) <= sub.commitment_end:
        days.append(day)
        k += 1
    return days


def charge_in_progress(world: World, sub: Subscription) -> bool:
    """Whether a cycle charge is being taken now (its next-charge instructions are read-only)."""
    today = world.now.date()
    if today not in charge_days(sub):
        return False
    since = datetime(today.year, today.month, today.day, tzinfo=UTC)
    return world.now < since + world.config.renewal_processing


def schedule_next_charge(world: World, sub: Subscription) -> None:
    """Apply the pending billing-cycle change once the next cycle charge completes; with no
    charge left in the term, the renewal applies it."""
    pending = sub.next_charge
    starts = (datetime(d.year, d.month, d.day, tzinfo=UTC) for d in charge_days(sub))
    start = next((s for s in starts if s > world.now), None)
    if pending is None or start is None:
        return
    world.clock.schedule(
        start + world.config.renewal_processing, _charge_done(world, sub.id, pending)
    )


@event("lifecycle.charge_done")
def _charge_done(world: World, sub_id: str, expected: dict[str, object]) -> Handler:
    def fire() -> list[tuple[str, str]]:
        sub = world.subscriptions.get(sub_id)
        # Equal, not the same object: a snapshot restores both as copies (``simulator.snapshot``).
        if sub is None or sub.next_charge != expected or sub.status != "active":
            return []
        _apply_next_charge(sub)
        sub.version += 1
        return [("billingCycleChanged", uri(sub))]

    return fire


def refundable(sub: Subscription, now: datetime) -> list[SeatBatch]:
    return [b for b in sub.seat_batches if b.until >= now and b.quantity > 0]
