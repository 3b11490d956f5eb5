"""The gateway: marketplace orders in, durable Partner Center workflows out (issue 4)."""
