"""What a change costs or gives back, the way the seeds count it.

- Refunds (seeds ``000_…``, ``003_…``): seats removed inside their 168-hour window are credited
  for the unused days of what was charged for them, prorated by day; inside the first day (24
  hours from when the seats were added) the refund is full. The charge for seats is the offer's
  price per billing period, for the days from when they were added to the end of that period.
- "Estimated usage" for a first, partial month (seed ``002_…``): the recurring monthly fee
  divided by the days in the month, times the days left in it (the purchase day included).

Prices are Partner Center's: the ``pricing.price`` of the order line that bought the
subscription (one seat for one billing period). Amounts are rounded to the cent.

LIMITATIONS:
- A seat batch's start is read back from its window: ``allowedUntilDateTime`` minus 168 hours.
- Seats added after the purchase are priced at the purchase's order-line price; an offer
  changed since (an upgrade, a renewal into another SKU) uses that old price.
- Monthly billing periods run from the term's start day month by month; annual and triennial
  periods from the term start. Taxes, promotions and currency rounding rules are not modelled.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from gateway.upstream import PartnerCenter, PartnerCenterError

WINDOW = timedelta(hours=168)
DAY = timedelta(days=1)
CYCLE_MONTHS = {"monthly": 1, "annual": 12, "triennial": 36}


@dataclass(frozen=True, slots=True)
class Batch:
    """Seats added at one moment."""

    seats: int
    added: datetime


def add_months(start: date, months: int) -> date:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def period_of(term_start: date, cycle: str, day: date) -> tuple[date, date]:
    """The billing period (first day, first day of the next) that contains ``day``."""
    months = CYCLE_MONTHS.get(cycle, 12)
    k = 0
    while add_months(term_start, months * (k + 1)) <= day:
        k += 1
    return add_months(term_start, months * k), add_months(term_start, months * (k + 1))


def batch_refund(
    unit_price: float, cycle: str, term_start: date, batch: Batch, now: datetime
) -> float:
    """The credit for removing ``batch`` at ``now``: its charge less the whole days used."""
    first, following = period_of(term_start, cycle, batch.added.date())
    period_days = (following - first).days
    charged_days = (following - batch.added.date()).days
    used = 0 if now - batch.added < DAY else (now - batch.added) // DAY
    unused = max(charged_days - used, 0)
    return unit_price * batch.seats * unused / period_days


def removed_batches(sub: dict[str, Any], seats: int) -> list[Batch]:
    """The refundable batches ``seats`` removes, newest first (as Microsoft takes them)."""
    details = (sub.get("refundableQuantity") or {}).get("details", [])
    batches = [
        Batch(int(d["quantity"]), _instant(d["allowedUntilDateTime"]) - WINDOW) for d in details
    ]
    taken = []
    for batch in sorted(batches, key=lambda b: b.added, reverse=True):
        if seats <= 0:
            break
        n = min(batch.seats, seats)
        taken.append(Batch(n, batch.added))
        seats -= n
    return taken


def refund(
    sub: dict[str, Any], seats: int, unit_price: float, currency: str, now: datetime
) -> dict[str, Any]:
    """The refund for removing ``seats`` of subscription ``sub`` (as Partner Center shows it)
    at ``now``, for the operation's result."""
    term_start = _instant(sub.get("effectiveStartDate")).date()
    cycle = str(sub.get("billingCycle", "monthly")).lower()
    batches = removed_batches(sub, seats)
    amount = sum(batch_refund(unit_price, cycle, term_start, b, now) for b in batches)
    return {
        "amount": round(amount, 2),
        "currency": currency,
        "seats": sum(b.seats for b in batches),
        "full": all(now - b.added < DAY for b in batches),
    }


def monthly_fee(unit_price: float, cycle: str, quantity: int) -> float:
    """What the seats cost per month: the period price spread over the period's months."""
    return unit_price * quantity / CYCLE_MONTHS.get(cycle.lower(), 1)


def estimated_usage(fee: float, start: date) -> float:
    """Seed ``002_…``: recurring fee / days in the month x days left (the start day counts)."""
    days = calendar.monthrange(start.year, start.month)[1]
    return round(fee / days * (days - start.day + 1), 2)


async def unit_price(
    pc: PartnerCenter, customer_id: str, sub: dict[str, Any]
) -> tuple[float, str] | None:
    """The price of one seat for one billing period, and its currency, from the order that
    bought ``sub``; ``None`` when that order no longer says."""
    order_id = sub.get("orderId")
    if not order_id:
        return None
    try:
        order = (await pc.call("GET", f"/v1/customers/{customer_id}/orders/{order_id}")).body
    except PartnerCenterError as exc:
        if exc.status in (403, 404):
            return None
        raise
    for line in order.get("lineItems", []):
        if line.get("subscriptionId") == sub.get("id") or line.get("offerId") == sub.get("offerId"):
            price = (line.get("pricing") or {}).get("price")
            if price is not None:
                return float(price), str(order.get("currencyCode", "USD"))
    return None


async def purchase_estimates(
    pc: PartnerCenter, customer_id: str, order_ids: list[str]
) -> list[dict[str, Any]]:
    """Each bought subscription's monthly fee and its estimated usage for the first, partial
    month (for a purchase's result). One-time purchases and trials have no recurring fee."""
    orders = [
        (await pc.call("GET", f"/v1/customers/{customer_id}/orders/{order_id}")).body
        for order_id in order_ids
    ]
    return [estimate for order in orders for estimate in order_estimates(order)]


def order_estimates(order: dict[str, Any]) -> list[dict[str, Any]]:
    """``purchase_estimates`` for one order body already in hand (a checkout's answer), so a
    purchase needs no extra call for them."""
    out = []
    start = _instant(order.get("creationDate")).date()
    currency = str(order.get("currencyCode", "USD"))
    for line in order.get("lineItems", []):
        cycle = str(line.get("billingCycle") or order.get("billingCycle") or "").lower()
        price = float((line.get("pricing") or {}).get("price") or 0.0)
        if cycle not in CYCLE_MONTHS or not price:
            continue
        fee = monthly_fee(price, cycle, int(line.get("quantity", 0)))
        out.append({
            "subscriptionId": line.get("subscriptionId"),
            "monthlyFee": round(fee, 2),
            "estimatedUsage": estimated_usage(fee, start),
            "currency": currency,
            "from": start.isoformat(),
        })  # fmt: skip
    return out


def _instant(value: Any) -> datetime:
    if not value:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
