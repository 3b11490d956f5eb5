"""A stateful, wire-compatible Microsoft Partner Center for New Commerce, with a movable clock.

``create_app(settings)`` gives the aiohttp application; ``pcgw sim`` serves it.
"""

from simulator.app import create_app
from simulator.settings import SimulatorSettings

__all__ = ["SimulatorSettings", "create_app"]
