"""Test equipment: simulators of the systems contract-sync talks to. Not part of the product:
not in the wheel (pyproject.toml lists the product's packages by hand), never imported by it."""
