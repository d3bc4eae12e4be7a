"""Hotspot analysis on arrays and GeoDataFrames: no I/O, no database, no HTTP."""
