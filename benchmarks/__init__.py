"""Benchmarks: each prints our figure, the named baseline measured in the same run, and the ratio."""
