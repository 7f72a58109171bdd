"""Find the orientation the user sees: the preview darktable exports (flip on) against the raster-frame guide."""

from __future__ import annotations

import numpy as np
import pytest

from dtmask import geometry, orientation
from dtmask.errors import DtmaskError
from dtmask.imageio import from_array


def photo(w: int = 300, h: int = 200) -> np.ndarray:
    """An asymmetric 16-bit scene: gradients and an off-centre object, like a photo."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.float64)
    img[..., 0] = 0.2 + 0.5 * x / w
    img[..., 1] = 0.2 + 0.4 * y / h
    img[..., 2] = 0.3
    img[(x - w * 0.3) ** 2 + (y - h * 0.3) ** 2 < (h * 0.15) ** 2] = (0.9, 0.2, 0.2)
    return (img * 65535).astype(np.uint16)


def small(a: np.ndarray, side: int) -> np.ndarray:
    """A smaller export, as darktable writes for the preview (nearest rows/columns; another resampler than ours)."""
    h, w = a.shape[:2]
    s = side / max(h, w)
    ys = (np.arange(round(h * s)) / s).astype(int)
    xs = (np.arange(round(w * s)) / s).astype(int)
    return a[ys][:, xs]


@pytest.mark.parametrize("n", range(1, 9))
@pytest.mark.parametrize("size", [(300, 200), (240, 240)])
def test_detects_all_eight(n, size):
    raster = photo(*size)
    display = small(geometry.orient_array(raster, n), 128)
    display = (display * 0.8).astype(np.uint16)  # a different exposure must not matter
    assert orientation.detect(from_array(raster), from_array(display)) == n


def test_refuses_a_symmetric_image():
    flat = np.full((100, 100, 3), 30000, np.uint16)
    flat[40:60, 40:60] = 60000
    with pytest.raises(DtmaskError, match="cannot tell"):
        orientation.detect(from_array(flat), from_array(flat))


def test_refuses_an_unrelated_image():
    a = photo()
    rng = np.random.default_rng(1)
    b = rng.integers(0, 65535, a.shape, dtype=np.uint16)
    with pytest.raises(DtmaskError):
        orientation.detect(from_array(a), from_array(b))
