"""Run every benchmark in turn: ``python -m benchmarks.run``."""

from __future__ import annotations

import sys

from . import bench_import


def main() -> int:
    return max(bench_import.main([]), 0)


if __name__ == "__main__":
    sys.exit(main())
