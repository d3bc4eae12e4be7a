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
