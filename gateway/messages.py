"""One catalogue of the sentences a reseller reads when something needs them, keyed by
Partner Center code (or by the gateway's own reason), so they can be translated later.

Each sentence says what happened and what to do next. ``{…}`` fields come from the failing
operation (dates already formatted as ``2026-03-08T10:00Z``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.upstream import PartnerCenterError, UnreadableAnswer

BY_CODE: dict[int, str] = {
    13605: "The customer has no Microsoft Customer Agreement acceptance on record; send who accepted it and when, then order again.",
    800015: "Partner Center does not know MPN ID {mpn_id}; check the reseller's MPN ID and order again.",
    800016: "MPN ID {mpn_id} is not an indirect reseller of this distributor; the reseller must accept the distributor's invitation in Partner Center first.",
    2072: "MPN ID {mpn_id} belongs to the distributor itself; give the reseller's own MPN ID.",
    900123: "The reseller has not signed the Microsoft Partner Agreement; it must sign it in Partner Center before it can order.",
    900206: "The partner-of-record attestation is missing; confirm the attestation and order again.",
    3000: "Partner Center does not know MPN ID {mpn_id}; check the reseller's MPN ID and order again.",
    2204: "MPN ID {mpn_id} is not a CSP indirect reseller; check the MPN ID, or ask the reseller to enrol as an indirect reseller.",
    900213: "The 168-hour cancellation window closed on {window_closed}; the subscription can no longer be cancelled and the whole term is billed.",
    900214: "Seats can only be removed within 168 hours of being added; the lowest quantity allowed now is {floor}.",
    2011: "The subscription is deleted and can no longer be changed.",
    800091: "The subscription is suspended; resume it before changing it.",
    900311: "This subscription has been updated 1,200 times, Microsoft's limit; buy a second subscription for the same offer to change seats.",
    900279: "The subscription's term has ended and it can no longer be changed; buy a new subscription.",
    2002: "The quantity is outside what this offer allows; choose a quantity within the offer's range.",
    800018: "The Partner Center sandbox limit was reached (75 customers, 5 subscriptions per customer, 25 licences).",
    800082: "A renewal is in progress on this subscription; the gateway retries after Microsoft's two minutes.",
    800002: "Partner Center refused the request: {description}",
    900275: "A quantity is outside what the offer allows; choose a quantity within the offer's range.",
    800009: "Partner Center refused a line of the order: {description}",
    900100: "Partner Center has no such transfer request; check the transfer id (it may belong to another partner).",
    900104: "The transfer request is no longer pending (accepted, cancelled or expired); the target partner must send a new request.",
}

BY_REASON: dict[str, str] = {
    "domain_taken": "The domain {domain} is already in use; order for the existing tenant instead (existingTenant.domain).",
    "mpa_not_signed": "The reseller (MPN ID {mpn_id}) has not signed the Microsoft Partner Agreement; it must sign it in Partner Center before it can order.",
    "reseller_invitation": "The reseller (MPN ID {mpn_id}) has not accepted the distributor's invitation yet; it must accept it in Partner Center, then the order goes on by itself.",
    "reseller_invitation_expired": "The reseller (MPN ID {mpn_id}) did not accept the distributor's invitation by {expired}; ask it to accept, then order again.",
    "customer_invitation": "The customer's global admin must accept the reseller relationship at the link given; the order goes on by itself once accepted.",
    "customer_invitation_expired": "The customer did not accept the reseller relationship by {expired}; send the invitation again with a new order.",
    "cart_line": "Partner Center refused line {line}: {description}",
    "unavailable": "Partner Center was unavailable (no answer, or a server error) on {attempts} tries in a row; submit the operation again later.",
    "internal": "The gateway failed on an answer it did not expect; the error is logged under operation {operation_id} for the distributor's support.",
    "subscription_deleted": "The subscription is deleted and can no longer be changed.",
    "subscription_suspended": "The subscription is suspended; resume it before changing its seats.",
    "subscription_ended": "The subscription's term has ended ({status}); it can no longer be changed.",
    "window_closed": "The 168-hour cancellation window closed on {window_closed}; the subscription can no longer be cancelled and the whole term is billed.",
    "seats_below_floor": "Only seats added in the last 168 hours can be removed: the lowest quantity allowed now is {floor} (asked {quantity}).",
    "seats_out_of_range": "The quantity {quantity} is outside this offer's range ({minimum}-{maximum}).",
    "not_suspended": "The subscription is not suspended (it is {status}); there is nothing to resume.",
    "already_suspended": "The subscription is already suspended.",
    "trial": "A trial subscription's seats and status can't be changed; convert it to a paid subscription first.",
    # -- resellers and partner of record --
    # -- transfers --
    "transfer_invitation": "The customer's global admin must accept this distributor's relationship at the link given before the transfer can be requested; the transfer goes on by itself once accepted.",
    "transfer_invitation_expired": "The customer did not accept the relationship by {expired}; submit the transfer again to send a new invitation.",
    "transfer_pending": "The source partner ({source}) must accept the transfer request in Partner Center by {expires}; the transfer completes by itself once accepted.",
    "transfer_expired": "The source partner did not accept the transfer request before it expired on {expired}; submit a new transfer if the customer should still move.",
    "transfer_canceled": "The transfer request was cancelled before the source partner accepted it; submit a new transfer if the customer should still move.",
    "transfer_not_acceptable": "The transfer request is {status}, no longer pending, so it can't be accepted; the target partner must send a new request.",
    "transfer_not_cancellable": "The transfer request is {status}, no longer pending, so there is nothing to cancel.",
    # -- legacy moves --
    "legacy_cancel": "Legacy CSP subscriptions can't be cancelled, only suspended; suspend it, or move it to NCE (move-to-nce), which suspends it for you.",
    "legacy_not_found": "Customer {customer_id} has no subscription {subscription_id} in this partner account; check both ids, then move it again.",
    "legacy_not_legacy": "Subscription {subscription_id} is already a new-commerce (NCE) subscription ({offer_id}); only legacy CSP subscriptions move to NCE.",
    "legacy_not_active": "Legacy subscription {subscription_id} is {status}, not active; reactivate it before moving it, or buy the NCE subscription with a new order.",
    "legacy_seats_out_of_range": "Legacy subscription {subscription_id} has {quantity} seats, outside what {title} allows ({minimum}-{maximum}); give a quantity within that range and move it again.",
    "legacy_suspend_refused": "The NCE subscription ({subscription_ids}) was bought, but Partner Center refused to suspend legacy subscription {subscription_id} ({description}); suspend the legacy subscription by hand so the customer is not billed for both.",
    # -- upgrades --
    "upgrade_not_found": "Subscription {subscription_id} was not found for customer {customer_id}; check both ids.",
    "upgrade_not_active": "Subscription {subscription_id} is {status}; only active subscriptions can be upgraded, so reactivate it first.",
    "upgrade_not_a_target": "{title} is not an upgrade of {offer_name} (Microsoft allows: {targets}); downgrades are not possible, so buy the other offer with a new order instead.",
    "upgrade_not_eligible": "Partner Center says this subscription can't move to {title} now ({errors}); fix that and try again.",
    "upgrade_target_not_eligible": "Subscription {target_id} can't receive these seats ({errors}); wait until it can, or upgrade into a new subscription by leaving toSubscriptionId out.",
    "upgrade_trial_seats": "A trial converted before its end needs at least {minimum} seats, not {quantity}; ask for {minimum} or more, or let it convert at renewal.",
    "upgrade_too_many_seats": "Subscription {subscription_id} has {seats} seats, so {quantity} can't be upgraded; ask for {seats} or fewer.",
    # -- scheduled changes and billing --
    "scheduled_change_needs_auto_renew": "A change can only be scheduled for the renewal of an active subscription with auto-renew on (this one is {status}); turn auto-renew on (resume it first if suspended), then schedule the change again.",
    "nothing_scheduled": "Nothing is scheduled for this subscription's renewal, so there is nothing to cancel.",
    "billing_cycle_trial": "A trial's billing cycle can't be changed; schedule the paid subscription's billing for the conversion instead (scheduled-change).",
    "billing_cycle_not_active": "The subscription is {status}; only an active subscription's billing cycle can be changed, so resume it first.",
    # -- migrations --
    "migration_not_eligible": "Microsoft will not migrate this subscription to new commerce ({reasons}); buy the NCE subscription instead (move-to-nce).",
    "migration_failed": "Partner Center reports the migration as {status}; the legacy subscription is unchanged, try again or use move-to-nce.",
}


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ") if moment else "an unknown date"


def _fill(template: str, fields: dict[str, Any]) -> str:
    class Blank(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "?"

    return template.format_map(Blank(fields))


def for_reason(reason: str, **fields: Any) -> str:
    return _fill(BY_REASON[reason], fields)


def for_upstream(error: PartnerCenterError, **fields: Any) -> str:
    if isinstance(error, UnreadableAnswer):
        said = f"Partner Center answered HTTP {error.status} with {error.description}, which the gateway cannot read"
        if error.status < 300:
            return f"{said}; the change may have been made, so check in Partner Center (quote the MS-RequestId) before submitting again."
        return f"{said}; submit the operation again later, or quote the MS-RequestId to Microsoft."
    template = BY_CODE.get(error.code or -1)
    if template is None:
        return (
            f"Partner Center refused the request ({error.status} / {error.code}): "
            f"{error.description}"
        )
    return _fill(template, {"description": error.description, **fields})
