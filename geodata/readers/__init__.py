"""Readers turn files into :class:`~geodata.records.RawRecords`; validation does the rest."""
