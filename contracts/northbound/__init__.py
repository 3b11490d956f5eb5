"""The gateway's own API (filled in by the gateway issue)."""
