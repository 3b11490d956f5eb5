"""Northbound routes for transfer operations (issue 5): filled in by its owner."""

from __future__ import annotations

from aiohttp import web

from contracts.openapi import Route

ROUTES: list[Route] = []


def add_routes(router: web.UrlDispatcher) -> None:
    return None
