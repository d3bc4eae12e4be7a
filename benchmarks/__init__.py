"""Benchmarks: each prints our figure, the named baseline from the same run, and the ratio."""
