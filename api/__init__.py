"""The service layer: FastAPI app factory, routes, and the ``hotspots`` command line."""
