"""hotspots.uniq gives what numpy.unique gives, by sorting."""

from __future__ import annotations

import numpy as np
import pytest

from hotspots.uniq import unique, unique_inverse, unique_pairs


@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_unique_and_inverse_equal_numpy(dtype) -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(-500, 500, 20_000).astype(dtype)
    np.testing.assert_array_equal(unique(a), np.unique(a))
    u, inv = unique_inverse(a)
    nu, ninv = np.unique(a, return_inverse=True)
    np.testing.assert_array_equal(u, nu)
    np.testing.assert_array_equal(inv, ninv)
    np.testing.assert_array_equal(u[inv], a)


def test_pairs_in_the_order_of_complex_unique() -> None:
    rng = np.random.default_rng(4)
    lat = np.round(rng.uniform(51.2, 51.5, 30_000), 3)
    lng = np.round(rng.uniform(-0.2, 0.6, 30_000), 3)  # both signs of longitude
    pairs, inverse = unique_pairs(lat, lng)
    ref, ref_inverse = np.unique(lat + 1j * lng, return_inverse=True)
    np.testing.assert_array_equal(pairs[:, 0], ref.real)
    np.testing.assert_array_equal(pairs[:, 1], ref.imag)
    np.testing.assert_array_equal(inverse, ref_inverse)


def test_empty() -> None:
    assert unique(np.array([], np.int64)).size == 0
    u, inv = unique_inverse(np.array([], np.int64))
    assert u.size == 0 and inv.size == 0


def _numbered_by_first_appearance(a, b):
    """The reference: a dict of pairs, numbered as first met (bit patterns, -0.0 as 0.0)."""
    seen: dict = {}
    codes = [seen.setdefault((x + 0.0, y + 0.0), len(seen)) for x, y in zip(a.tolist(), b.tolist())]
    first = [codes.index(c) for c in range(len(seen))]
    return np.array(first), np.array(codes)


@pytest.mark.parametrize("collide", [False, True])
def test_first_seen_pairs_numbers_pairs_as_first_met(monkeypatch, collide) -> None:
    import hotspots.uniq as uniq

    if collide:  # every pair shares one hash key: the exact sort must take over
        monkeypatch.setattr(uniq, "_mixed", lambda ab, bb: np.zeros(ab.size, np.uint64))
    rng = np.random.default_rng(5)
    lat = np.round(rng.uniform(51.2, 51.5, 3_000), 2)
    lng = np.round(rng.uniform(-0.2, 0.2, 3_000), 2)
    lng[:10] = -0.0  # -0.0 is the same place as 0.0
    lng[10:20] = 0.0
    lng[20] = np.nextafter(0.0, 1.0)  # one ulp away is another place
    first, inverse = uniq.first_seen_pairs(lat, lng)
    ref_first, ref_codes = _numbered_by_first_appearance(lat, lng)
    np.testing.assert_array_equal(first, ref_first)
    np.testing.assert_array_equal(inverse, ref_codes)
    assert uniq.first_seen_pairs(np.empty(0), np.empty(0))[0].size == 0
