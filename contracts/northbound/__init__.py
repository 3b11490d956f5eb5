"""The gateway's own API: strict request models (unknown fields refused, types not coerced)
and the operation resource every write answers with. OpenAPI 3.1 is generated from these."""
