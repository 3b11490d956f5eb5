"""The reseller onboarding check: does the MPN ID exist, did the reseller sign the Microsoft
Partner Agreement, did it accept this provider's invitation. Every purchase runs it, and
``GET /v1/resellers/{mpnId}`` exposes it on its own.

Three Partner Center reads: ``/v1/profiles/mpn``, ``/v1/compliance/csp/agreementstatus`` and
``/v1/relationships``. A reseller that passes all three is cached briefly
(``reseller_ttl_seconds``); a negative answer never is, so a reseller who signs or accepts is
seen at the next look.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway import messages
from gateway.cache import TtlCache
from gateway.upstream import PartnerCenter, PartnerCenterError

#: Microsoft's codes for "this MPN ID is not a usable indirect reseller", kept on refusals.
UNKNOWN_OR_NOT_A_RESELLER = (3000, 2200, 2204)


@dataclass(frozen=True, slots=True)
class ResellerCheck:
    mpn_id: str
    name: str | None = None
    tenant_id: str | None = None  # set once the reseller accepted this provider's invitation
    mpa_signed: bool | None = None
    refused: PartnerCenterError | None = None  # Microsoft said the MPN ID is unusable

    @property
    def ready(self) -> bool:
        return self.tenant_id is not None

    @property
    def reason(self) -> str | None:
        """Why it is not ready, as a key of ``messages.BY_REASON`` (``None`` when ready or
        refused by Microsoft)."""
        if self.refused is not None or self.ready:
            return None
        if not self.mpa_signed:
            return "mpa_not_signed"
        return "reseller_invitation"

    @property
    def next_step(self) -> str | None:
        if self.refused is not None:
            return messages.for_upstream(self.refused, mpn_id=self.mpn_id)
        reason = self.reason
        return messages.for_reason(reason, mpn_id=self.mpn_id) if reason else None


async def check_reseller(
    pc: PartnerCenter, cache: TtlCache[ResellerCheck], mpn_id: str
) -> ResellerCheck:
    """Raises only for Partner Center being unavailable or answering unexpectedly."""
    cached = cache.get(mpn_id)
    if cached is not None:
        return cached
    try:
        profile = await pc.call("GET", "/v1/profiles/mpn", params={"mpnId": mpn_id})
        status = await pc.call(
            "GET", "/v1/compliance/csp/agreementstatus", params={"mpnId": mpn_id}
        )
    except PartnerCenterError as exc:
        if exc.code in UNKNOWN_OR_NOT_A_RESELLER:
            return ResellerCheck(mpn_id, refused=exc)
        raise
    name = str(profile.body.get("partnerName", ""))
    signed = bool(status.body.get("isAgreementSigned"))
    if not signed:
        return ResellerCheck(mpn_id, name=name, mpa_signed=False)
    relationships = await pc.call(
        "GET",
        "/v1/relationships",
        params={"relationship_type": "IsIndirectCloudSolutionProviderOf"},
    )
    for item in relationships.body.get("items", []):
        if str(item.get("mpnId")) == mpn_id:
            found = ResellerCheck(mpn_id, name=name, tenant_id=str(item["id"]), mpa_signed=True)
            cache.put(mpn_id, found)
            return found
    return ResellerCheck(mpn_id, name=name, mpa_signed=True)
