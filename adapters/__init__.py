"""The edges of the gateway, each behind a protocol the core owns (issue 4 onwards)."""
