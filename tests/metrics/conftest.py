"""The gateway on the in-process simulator (``sim``, ``make_gateway``, ...), and a scraper that
reads either app's ``/metrics`` over HTTP as Prometheus would: no credentials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import make_gateway, sim, sim_http, sim_url  # noqa: F401
from tests.scaleout.conftest import pg_url  # noqa: F401


@dataclass(frozen=True, slots=True)
class Scrape:
    """One scrape: the exposition text, and its samples parsed by prometheus_client."""

    text: str
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float:
        """The sample ``name`` with exactly these labels; 0 when it is absent (a counter no
        event has touched yet)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def series(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        return {labels: v for (n, labels), v in self.samples.items() if n == name}


def parse(text: str) -> Scrape:
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return Scrape(text, samples)


async def scrape(base_url: str, headers: Mapping[str, str] | None = None) -> Scrape:
    """``GET <base_url>/metrics`` with a session of its own (no API key, no token)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/metrics", headers=headers) as resp,
    ):
        text = await resp.text()
        assert resp.status == 200, text
        assert resp.content_type == "text/plain", resp.headers
        return parse(text)
