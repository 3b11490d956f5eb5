"""The one exception a simulator rule raises; the app's middleware renders it on the wire.

Every refusal is a :class:`PartnerCenterError` raised *before* any state changes, so a 4xx never
leaves a half-done operation behind.
"""

from __future__ import annotations

from typing import Any

from contracts.partner_center.errors import describe, http_status


class PartnerCenterError(Exception):
    """A Partner Center failure: HTTP status plus Microsoft's ``{code, description, data, source}``."""

    def __init__(
        self,
        code: int,
        *args: object,
        status: int | None = None,
        description: str | None = None,
        source: str = "PartnerFD",
        data: list[Any] | None = None,
    ) -> None:
        self.code = code
        self.status = status if status is not None else http_status(code)
        self.description = description if description is not None else describe(code, *args)
        self.source = source
        self.data = data if data is not None else []
        super().__init__(f"{self.status} / {code}: {self.description}")

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "description": self.description,
            "data": self.data,
            "source": self.source,
        }


def invalid_input(rule: str, *, source: str = "PartnerFD") -> PartnerCenterError:
    """400 / 800002 naming the field and the rule that failed."""
    return PartnerCenterError(800002, rule, source=source)


def sim_error(status: int, rule: str) -> PartnerCenterError:
    """A control-plane refusal: the Partner Center body with ``source: "Simulator"``."""
    return PartnerCenterError(800002, rule, status=status, source="Simulator")
