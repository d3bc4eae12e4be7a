"""The data layer: read incident files, validate them, and keep them in a store.

Readers (:mod:`geodata.readers`) turn police.uk CSVs and zips, council exports
and GIS point files into raw records; :func:`geodata.validate.validate`
accepts or quarantines every row; :mod:`geodata.stores` keeps the result in a
DuckDB file or PostGIS; :func:`geodata.ingest.import_records` ties them
together with idempotent, all-or-nothing imports.
"""
