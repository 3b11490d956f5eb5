"""The ``pcgw`` commands as a user runs them: the real entry point in a subprocess, against real
servers the test starts — a ``pcgw sim`` process, or the gateway and simulator of
``tests/gateway/conftest.py`` on loopback ports."""

from tests.gateway.conftest import make_gateway, sim, sim_http, sim_url

__all__ = ["make_gateway", "sim", "sim_http", "sim_url"]
