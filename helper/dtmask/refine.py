"""From model-frame logits to a full-resolution mask, strip by strip so a 24 MP mask is the only big array."""

from __future__ import annotations

import numpy as np

from .geometry import ResizeLongestSide, bilinear_axis

STRIP_ROWS = 512


def upsample_mask(logits: np.ndarray, width: int, height: int, threshold: float = 0.0) -> np.ndarray:
    """Bilinearly upsample (n, n) model-frame logits to the W x H file frame and threshold them: float32 0/1.

    Exact and fast: a pixel whose low-res cell and its 8 neighbours agree gets their value by lookup (bilinear
    weights are a convex mix of those cells); only pixels of cells on the boundary are interpolated.
    """
    n = logits.shape[0]
    w, h = ResizeLongestSide(width, height).resized_size
    xi0, xi1, xf = bilinear_axis(n, width, (w / width) * (n / 1024))
    yi0, yi1, yf = bilinear_axis(n, height, (h / height) * (n / 1024))
    cell_x = np.where(xf < 0.5, xi0, xi1)  # the cell whose centre is nearest each pixel
    cell_y = np.where(yf < 0.5, yi0, yi1)
    inside = logits > threshold
    out = inside[cell_y][:, cell_x].astype(np.float32)
    mixed = _neighbourhood_mixed(inside)
    for j in np.nonzero(mixed.any(axis=1))[0]:
        rows = np.nonzero(cell_y == j)[0]
        cols = np.nonzero(mixed[j][cell_x])[0]
        if rows.size == 0 or cols.size == 0:
            continue
        top = logits[yi0[rows]][:, xi0[cols]] * (1 - xf[cols]) + logits[yi0[rows]][:, xi1[cols]] * xf[cols]
        bottom = logits[yi1[rows]][:, xi0[cols]] * (1 - xf[cols]) + logits[yi1[rows]][:, xi1[cols]] * xf[cols]
        fy = yf[rows, None]
        out[np.ix_(rows, cols)] = (top * (1 - fy) + bottom * fy) > threshold
    return out


def _neighbourhood_mixed(inside: np.ndarray) -> np.ndarray:
    """Cells whose 3 x 3 neighbourhood holds both inside and outside cells."""
    padded = np.pad(inside, 1, mode="edge")
    n, m = inside.shape
    any_in = np.zeros_like(inside)
    all_in = np.ones_like(inside)
    for dy in range(3):
        for dx in range(3):
            window = padded[dy:dy + n, dx:dx + m]
            any_in |= window
            all_in &= window
    return any_in & ~all_in


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """Soften the mask edge by about ``radius`` pixels (three box blurs approximate a Gaussian), in place."""
    if radius <= 0:
        return mask
    half = max(1, int(round(radius / 2)))
    for _ in range(3):
        _box_blur_axis(mask, half, axis=1)
        _box_blur_axis(mask, half, axis=0)
    return mask


def _box_blur_axis(mask: np.ndarray, half: int, axis: int) -> None:
    """Running mean of width 2*half+1 along ``axis`` with edge replication, in strips."""
    view = mask if axis == 1 else mask.T
    for r0 in range(0, view.shape[0], STRIP_ROWS):
        strip = view[r0:r0 + STRIP_ROWS].astype(np.float64)
        padded = np.concatenate([np.repeat(strip[:, :1], half + 1, axis=1), strip,
                                 np.repeat(strip[:, -1:], half, axis=1)], axis=1)
        csum = np.cumsum(padded, axis=1)
        width = 2 * half + 1
        view[r0:r0 + STRIP_ROWS] = (csum[:, width:] - csum[:, :-width]) / width
