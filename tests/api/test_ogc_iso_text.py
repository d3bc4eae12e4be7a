"""Incident times written column-wise for OGC pages: exactly ``datetime.isoformat``."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from api.ogc.items import iso_text

TIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))


@given(st.lists(st.one_of(st.none(), TIMES), max_size=30), st.booleans())
def test_iso_text_is_isoformat_with_and_without_fractions(times, whole):
    if whole:  # the common case (police.uk months, council minutes): the vectorised path
        times = [None if t is None else t.replace(microsecond=0) for t in times]
    column = pa.chunked_array([pa.array(times, pa.timestamp("us"))])
    want = [None if t is None else t.isoformat() for t in times]
    assert iso_text(column).to_pylist() == want
