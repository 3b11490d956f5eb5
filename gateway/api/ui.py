"""The operations view at ``/ui``: a static page (HTML, one vanilla JS file, one stylesheet; no
build step) over the API's own ``/v1/operations`` routes.

The page's files hold no data, so they are public (``auth.PUBLIC`` lists them); every data call
the page makes goes to ``/v1`` with the API key the user typed, which the page keeps in the
tab's ``sessionStorage`` (gone when the tab closes) and sends as ``Authorization: Bearer``. A
marketplace therefore sees exactly its own operations, as through the API; with
``PCGW_AUTH=off`` the page works without a key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape
from pathlib import Path

from aiohttp import web

from gateway.workflows import KINDS

STATIC = Path(__file__).parent.parent / "static"
#: URL path -> (file under ``gateway/static``, Content-Type).
ASSETS = {
    "/ui": ("operations.html", "text/html"),
    "/ui/operations.js": ("operations.js", "text/javascript"),
    "/ui/operations.css": ("operations.css", "text/css"),
    "/ui/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
#: Scripts and styles from this origin only and no inline code, so text from an operation
#: (a customer name, Microsoft's error description) can never run as script.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _serve(body: bytes, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        response = web.Response(body=body, content_type=content_type, charset="utf-8")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-cache"
        return response

    return serve


def _page(html: str) -> str:
    """The kind filter's choices are the workflows this gateway runs, written in once here
    rather than kept in step by hand in the HTML."""
    options = "\n".join(
        f'    <option value="{escape(kind)}">{escape(kind.replace("_", " "))}</option>'
        for kind in KINDS
    )
    return html.replace("    <!-- kinds -->", options)


def add_routes(router: web.UrlDispatcher) -> None:
    """Reads the page's files once, here, so a request never touches the disk."""
    for path, (name, content_type) in ASSETS.items():
        body = (STATIC / name).read_bytes()
        if content_type == "text/html":
            body = _page(body.decode()).encode()
        router.add_get(path, _serve(body, content_type))
