"""Write the published OpenAPI documents: ``python -m contracts.publish``.

The documents under ``contracts/openapi/`` are generated, never edited: the northbound API from
``gateway.api``'s route table, the Partner Center subset from ``contracts.partner_center.routes``.
``python -m contracts.publish --check`` exits 1 (naming the stale files) when a committed
document no longer matches the code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "openapi"


def _gateway() -> dict[str, Any]:
    from gateway.api import openapi  # the gateway imports contracts, not the other way round

    return openapi()


def _partner_center() -> dict[str, Any]:
    from contracts.partner_center.routes import openapi

    return openapi()


DOCUMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "gateway.json": _gateway,
    "partner-center.json": _partner_center,
}


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, a final newline (diffs stay readable)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected() -> dict[Path, str]:
    return {HERE / name: render(make()) for name, make in DOCUMENTS.items()}


def stale() -> list[Path]:
    """The committed documents that differ from what the code generates (or are missing)."""
    return [
        path
        for path, text in expected().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        outdated = stale()
        for path in outdated:
            print(f"{path} is out of date: run `python -m contracts.publish`", file=sys.stderr)
        return 1 if outdated else 0
    HERE.mkdir(exist_ok=True)
    for path, text in expected().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
