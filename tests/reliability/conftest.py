"""The gateway on the in-process simulator (served as ``pcgw sim`` serves it: a call whose client
went away still finishes), and the reliability harness's fixtures."""

from __future__ import annotations

from tests.gateway.conftest import make_gateway, sim, sim_http, sim_url  # noqa: F401
from tests.reliability.harness import control, http, run  # noqa: F401
