"""The contract layer: the effective spec as OpenAPI 3, enforced on requests (and responses)."""
