"""Partner Center's wire format: the error body, its codes, and the resource shapes."""
