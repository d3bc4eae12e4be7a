"""``python -m api.cli``: the same as the ``hotspots`` command."""

from . import main

main()
