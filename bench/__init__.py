"""Benchmark of a company-scale sync (see bench/__main__.py)."""
