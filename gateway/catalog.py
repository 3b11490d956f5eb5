"""Offers, named the marketplace's way or Partner Center's way, resolved through the catalog.

A marketplace plan code reads ``<product title> (NCE <segment> [<term>] <billing>)``, e.g.
``Microsoft 365 Business Basic (NCE COM 1YR MTH)``: segment COM/EDU/GOV, term 1MO/1YR/3YR,
billing MTH/ANN/TRI. Catalog answers are cached (``catalog_ttl_seconds``); ids "can change over
time", so they are looked up, never hard-coded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.cache import TtlCache
from gateway.upstream import PartnerCenter, PartnerCenterError

PLAN_CODE = re.compile(
    r"^(?P<title>.+?)\s*\(\s*NCE\s+(?P<segment>COM|EDU|GOV)(?:\s+(?P<term>1MO|1YR|3YR))?"
    r"\s+(?P<billing>MTH|ANN|TRI)\s*\)$",
    re.IGNORECASE,
)
SEGMENTS = {"COM": "commercial", "EDU": "education", "GOV": "government"}
TERMS = {"1MO": "P1M", "1YR": "P1Y", "3YR": "P3Y"}
BILLING = {"MTH": "monthly", "ANN": "annual", "TRI": "triennial"}


class LineRefused(Exception):
    """An order line the catalog cannot sell as asked; ``field`` names the part at fault."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


@dataclass(frozen=True, slots=True)
class Offer:
    catalog_item_id: str
    title: str
    minimum: int
    maximum: int
    terms: tuple[tuple[str | None, str], ...]
    is_trial: bool


class Catalog:
    def __init__(self, pc: PartnerCenter, cache: TtlCache[Any]) -> None:
        self._pc = pc
        self._cache = cache

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        key = path + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        body = (await self._pc.call("GET", path, params=params)).body
        self._cache.put(key, body)
        return body

    async def offers(
        self, product_id: str, country: str, segment: str | None = None
    ) -> list[Offer]:
        skus = await self._get(f"/v1/products/{product_id}/skus", {"country": country})
        found = []
        for sku in skus.get("items", []):
            avail = await self._get(
                f"/v1/products/{product_id}/skus/{sku['id']}/availabilities", {"country": country}
            )
            for item in avail.get("items", []):
                if segment and item.get("segment", "commercial") != segment:
                    continue
                found.append(
                    Offer(
                        catalog_item_id=item["catalogItemId"],
                        title=sku.get("title", ""),
                        minimum=int(sku.get("minimumQuantity", 1)),
                        maximum=int(sku.get("maximumQuantity", 10**6)),
                        terms=tuple(
                            (t.get("duration"), str(t["billingCycle"]).lower())
                            for t in item.get("terms", [])
                        ),
                        is_trial=bool(sku.get("isTrial")),
                    )
                )
        return found

    async def offer(self, catalog_item_id: str, country: str) -> Offer | None:
        """The offer with this id (any case), or ``None`` when the catalog does not list it."""
        item = catalog_item_id.upper()
        try:
            offers = await self.offers(item.split(":")[0], country)
        except PartnerCenterError as exc:
            if exc.status != 404:
                raise
            return None
        return next((o for o in offers if o.catalog_item_id.upper() == item), None)

    async def products(self, country: str) -> list[dict[str, Any]]:
        body = await self._get("/v1/products", {"country": country, "targetView": "OnlineServices"})
        return list(body.get("items", []))

    async def resolve(self, line: dict[str, Any], index: int, country: str) -> dict[str, Any]:
        """One northbound line → ``{catalogItemId, termDuration, billingCycle, quantity, …}``;
        raises :class:`LineRefused` naming the field."""
        where = f"lines[{index}]"
        if line.get("planCode"):
            offer, term, cycle = await self._by_plan_code(line["planCode"], where, country)
        else:
            offer, term, cycle = await self._by_item(line, where, country)
        quantity = line["quantity"]
        if not offer.minimum <= quantity <= offer.maximum:
            raise LineRefused("quantity_out_of_range",
                              f"{where}.quantity {quantity} is outside this offer's range "
                              f"({offer.minimum}-{offer.maximum})", f"{where}.quantity")  # fmt: skip
        out = {"catalogItemId": offer.catalog_item_id, "termDuration": term, "billingCycle": cycle,
               "quantity": quantity, "title": offer.title}  # fmt: skip
        if line.get("friendlyName"):
            out["friendlyName"] = line["friendlyName"]
        return out

    async def _by_plan_code(
        self, code: str, where: str, country: str
    ) -> tuple[Offer, str | None, str]:
        field = f"{where}.planCode"
        match = PLAN_CODE.match(code)
        if match is None:
            raise LineRefused("unknown_plan_code",
                              f"{field} {code!r} is not a plan code like 'Microsoft 365 Business "
                              "Basic (NCE COM 1YR MTH)'", field)  # fmt: skip
        title = match["title"].strip().lower()
        product = next(
            (p for p in await self.products(country) if p.get("title", "").lower() == title), None
        )
        if product is None:
            raise LineRefused("unknown_plan_code",
                              f"{field}: no product titled {match['title'].strip()!r} in the catalog", field)  # fmt: skip
        segment = SEGMENTS[match["segment"].upper()]
        cycle = BILLING[match["billing"].upper()]
        offers = [o for o in await self.offers(product["id"], country, segment) if not o.is_trial]
        if not offers:
            raise LineRefused("unknown_plan_code",
                              f"{field}: {product['title']} is not sold in the {segment} segment", field)  # fmt: skip
        offer = next((o for o in offers if o.title.lower() == title), offers[0])
        if match["term"]:
            term: str | None = TERMS[match["term"].upper()]
        else:
            terms = {t for t, c in offer.terms if c == cycle}
            if len(terms) != 1:
                raise LineRefused("unknown_plan_code",
                                  f"{field} names no term and {product['title']} is sold with "
                                  f"several for {cycle} billing; add 1MO, 1YR or 3YR", field)  # fmt: skip
            term = terms.pop()
        if (term, cycle) not in offer.terms:
            raise LineRefused("unknown_plan_code",
                              f"{field}: {product['title']} is not sold as {term}/{cycle}", field)  # fmt: skip
        return offer, term, cycle

    async def _by_item(
        self, line: dict[str, Any], where: str, country: str
    ) -> tuple[Offer, str | None, str]:
        field = f"{where}.catalogItemId"
        offer = await self.offer(line["catalogItemId"], country)
        if offer is None:
            raise LineRefused("unknown_offer",
                              f"{field} {line['catalogItemId']} is not in the catalog", field)  # fmt: skip
        term, cycle = line.get("termDuration"), line["billingCycle"]
        if (term, cycle) not in offer.terms:
            sold = ", ".join(f"{t or 'no term'}/{c}" for t, c in offer.terms)
            raise LineRefused("unknown_offer",
                              f"{where}: {offer.title} is not sold as {term or 'no term'}/{cycle}; sold as {sold}",
                              f"{where}.termDuration")  # fmt: skip
        return offer, term, cycle
