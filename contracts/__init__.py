"""The wire truth shared by the gateway and the simulator: models and codes, no I/O."""
