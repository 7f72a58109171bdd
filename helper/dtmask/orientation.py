"""Find the EXIF orientation the user sees in darktable, which darktable's Lua API does not expose.

The bridge exports the image twice from the same lean history: the full-resolution guide in the raster frame
(flip off) and the small preview with the flip as the user has it. The preview is one of the 8 orientations of the
guide; compare both at a small common size and refuse when two orientations fit about equally well (e.g. a
symmetric image).
"""

from __future__ import annotations

import numpy as np

from . import geometry
from .errors import DtmaskError
from .imageio import Image

SIDE = 48  # comparison size: enough to tell the 8 transforms apart, cheap on a 24 MP export


def _grey(image: Image) -> np.ndarray:
    px = image.pixels.astype(np.float32) / image.white
    return px.mean(axis=2)


def _shrink(a: np.ndarray, w: int, h: int) -> np.ndarray:
    """Area-average to w x h (sizes need not divide); then normalise so exposure differences do not count."""
    out = geometry.area_resize(a[:, :, None], w, h)[:, :, 0]
    out = out - out.mean()
    norm = float(np.sqrt((out * out).mean()))
    return out / norm if norm > 1e-6 else out


def scores(raster: Image, display: Image) -> dict[int, float]:
    """Mean squared difference (of normalised small greys) between `display` and each orientation of `raster`."""
    grey = _grey(raster)
    target = _grey(display)
    result = {}
    for n in geometry.ORIENTATIONS:
        oriented = geometry.orient_array(grey, n)
        w, h = min(SIDE, oriented.shape[1], target.shape[1]), min(SIDE, oriented.shape[0], target.shape[0])
        a, b = _shrink(oriented, w, h), _shrink(target, w, h)
        aspect_a = oriented.shape[1] / oriented.shape[0]
        aspect_b = target.shape[1] / target.shape[0]
        if abs(np.log(aspect_a / aspect_b)) > 0.05:
            result[n] = float("inf")  # a transposed frame cannot match a non-transposed one
            continue
        result[n] = float(((a - b) ** 2).mean())
    return result


def detect(raster: Image, display: Image, margin: float = 2.0) -> int:
    """The orientation N (1..8) with `display` == orient(raster, N); raises when the answer is not clear."""
    ranked = sorted(scores(raster, display).items(), key=lambda kv: kv[1])
    (best, s1), (_, s2) = ranked[0], ranked[1]
    if not np.isfinite(s1):
        raise DtmaskError("the display export has the wrong shape for any orientation of the raster export")
    if s1 > 0.25:
        raise DtmaskError(f"the display export does not match the raster export (difference {s1:.2f})")
    if s2 < margin * s1 + 1e-4:
        raise DtmaskError("cannot tell the image's orientation: it looks the same flipped or rotated")
    return best
