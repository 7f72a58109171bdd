"""Synthetic raw photos: a Bayer (CFA) DNG from an RGB picture, as a camera would write it.

darktable (4.2 and 5.x) opens these like any raw: rawprepare crops the ActiveArea and subtracts the black level,
demosaic interpolates the RGGB mosaic, the flip module applies the Orientation tag. The tests and the darktable
benchmark use them so that the bridge is exercised on raw files, where the raster frame (the sensor frame after
the border crop) differs from the file's full size and from what the user sees.
"""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import tifffile

BLACK, WHITE = 256, 4095  # a 12-bit sensor with a black level
# XYZ (D65) -> linear sRGB: the "camera" sees linear sRGB, so colours come out as drawn
XYZ_TO_CAMERA = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))


def _srational(values) -> list[int]:
    out = []
    for v in values:
        f = Fraction(v).limit_denominator(10000)
        out += [f.numerator, f.denominator]
    return out


def to_linear(rgb: np.ndarray) -> np.ndarray:
    """8/16-bit sRGB-encoded pixels -> linear 0..1 (the inverse sRGB curve), float32."""
    v = rgb.astype(np.float32) / (65535.0 if rgb.dtype == np.uint16 else 255.0)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


def mosaic(linear: np.ndarray, margin: int = 0) -> np.ndarray:
    """An RGGB mosaic of a linear (H, W, 3) picture inside a sensor border of ``margin`` pixels (even)."""
    h, w = linear.shape[:2]
    raw = np.full((h + 2 * margin, w + 2 * margin), BLACK, np.uint16)
    cfa = np.empty((h, w), np.float32)
    cfa[0::2, 0::2] = linear[0::2, 0::2, 0]
    cfa[0::2, 1::2] = linear[0::2, 1::2, 1]
    cfa[1::2, 0::2] = linear[1::2, 0::2, 1]
    cfa[1::2, 1::2] = linear[1::2, 1::2, 2]
    raw[margin:margin + h, margin:margin + w] = np.round(BLACK + np.clip(cfa, 0, 1) * (WHITE - BLACK))
    return raw


def write_dng(path: str | os.PathLike, rgb: np.ndarray, orientation: int = 1, margin: int = 8) -> None:
    """Write ``rgb`` (H, W, 3; uint8 or uint16 sRGB) as a CFA DNG of H x W active pixels, EXIF ``orientation``.

    The active area sits inside a ``margin``-pixel border (even, so the RGGB phase is the same in both frames).
    """
    if margin % 2 or rgb.shape[0] % 2 or rgb.shape[1] % 2:
        raise ValueError("the margin and the picture's sides must be even (RGGB phase)")
    raw = mosaic(to_linear(rgb), margin)
    h, w = raw.shape
    tags = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: R G / G B
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "dtmask synthetic", True),  # UniqueCameraModel
        (50714, "H", 1, BLACK, True),  # BlackLevel
        (50717, "H", 1, WHITE, True),  # WhiteLevel
        (50721, "q", 0, None, True),  # ColorMatrix1, replaced below
        (50728, "2I", 3, _srational((1, 1, 1)), True),  # AsShotNeutral
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50829, "I", 4, (margin, margin, h - margin, w - margin), True),  # ActiveArea: top, left, bottom, right
        (274, "H", 1, orientation, True),  # Orientation
        (271, "s", 0, "dtmask", True),  # Make
        (272, "s", 0, "synthetic", True),  # Model
    ]
    tags[7] = (50721, "2i", 9, _srational(np.asarray(XYZ_TO_CAMERA).ravel()), True)
    tifffile.imwrite(path, raw, photometric=32803, subfiletype=0, extratags=tags, metadata=None)
