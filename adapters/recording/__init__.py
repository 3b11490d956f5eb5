"""Record and replay of Partner Center traffic (vcrpy), and the pytest plugin users install with
the package (``pcgw_*`` fixtures and the ``pcgw_cassette`` marker).

vcrpy is a test dependency: nothing here is imported by the gateway or the simulator, and the
plugin imports ``cassettes`` only when a test asks for a cassette.
"""
