"""Pages in a real headless Chromium (``browser.py``) against both apps on real loopback ports.

The gateway fixtures (``sim_http``, ``sim``, ``sim_url``, ``make_gateway``) are the gateway
tier's own, so a page sees exactly the gateway and simulator the API tests see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.gateway.conftest import make_gateway, sim, sim_http, sim_url
from tests.ui.browser import CHROMIUM, SKIP_REASON, Browser, Page

__all__ = ["make_gateway", "sim", "sim_http", "sim_url"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        pytest.skip(SKIP_REASON)
    started = await Browser.launch()
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh tab; the test fails if the page threw or logged an error on the way."""
    tab = await browser.new_page()
    yield tab
    assert tab.errors == [], tab.errors
