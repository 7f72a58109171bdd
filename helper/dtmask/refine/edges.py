"""Model-frame logits to a full-resolution 0/1 mask: the exact bilinear upsampling, then the ``guided`` stage,
which snaps the edge onto the photo's own edge with a guided filter (He et al.) in tiles along the boundary."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..geometry import bilinear, bilinear_axis, bilinear_points, block_mean, lowres_scales

TILE_CELLS, TILE_PX = 8, 128  # edge tiles of the guided filter: 8 cells a side, or 128 pixels in small images
GUIDED_SAMPLES = 4  # the guided filter's radius in samples of its working grid
MIN_RADIUS_PX = 2.0  # in small images a cell is under a pixel: still look this far for the edge


@dataclass
class Grid:
    """How a W x H pixel rectangle maps onto its (n, n) logit cells, per axis."""

    xi0: np.ndarray
    xi1: np.ndarray
    xf: np.ndarray
    yi0: np.ndarray
    yi1: np.ndarray
    yf: np.ndarray
    scale_x: float  # cells per pixel
    scale_y: float

    @classmethod
    def of(cls, n: int, width: int, height: int) -> "Grid":
        sx, sy = lowres_scales(width, height, n)
        return cls(*bilinear_axis(n, width, sx), *bilinear_axis(n, height, sy), scale_x=sx, scale_y=sy)

    @property
    def cell_x(self) -> np.ndarray:
        """The cell whose centre is nearest each pixel column."""
        return np.where(self.xf < 0.5, self.xi0, self.xi1)

    @property
    def cell_y(self) -> np.ndarray:
        return np.where(self.yf < 0.5, self.yi0, self.yi1)


def upsample_mask(logits: np.ndarray, width: int, height: int, threshold: float = 0.0,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Bilinearly upsample (n, n) model-frame logits to the W x H file frame and threshold them: float32 0/1,
    in ``out`` (a zeroed (H, W) float32 array) when given.

    Exact and fast: a pixel whose low-res cell and its 8 neighbours agree gets their value by lookup (bilinear
    weights are a convex mix of those cells); only pixels of cells on the boundary are interpolated.
    """
    g = Grid.of(logits.shape[0], width, height)
    cell_x, cell_y = g.cell_x, g.cell_y
    inside = logits > threshold
    # the zeros are fresh pages (or a new file's): only the box of the inside cells is written
    out = np.zeros((height, width), np.float32) if out is None else out
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if rows.size:
        r0, r1 = np.searchsorted(cell_y, [rows[0], rows[-1] + 1])
        c0, c1 = np.searchsorted(cell_x, [cols[0], cols[-1] + 1])
        out[r0:r1, c0:c1] = inside[cell_y[r0:r1]][:, cell_x[c0:c1]]
    mixed = _neighbourhood_mixed(inside)
    for j in np.nonzero(mixed.any(axis=1))[0]:
        rows = np.nonzero(cell_y == j)[0]
        cols = np.nonzero(mixed[j][cell_x])[0]
        if rows.size == 0 or cols.size == 0:
            continue
        top = logits[g.yi0[rows]][:, g.xi0[cols]] * (1 - g.xf[cols]) + logits[g.yi0[rows]][:, g.xi1[cols]] * g.xf[cols]
        bottom = (logits[g.yi1[rows]][:, g.xi0[cols]] * (1 - g.xf[cols])
                  + logits[g.yi1[rows]][:, g.xi1[cols]] * g.xf[cols])
        fy = g.yf[rows, None]
        out[np.ix_(rows, cols)] = (top * (1 - fy) + bottom * fy) > threshold
    return out


def _neighbourhood_mixed(inside: np.ndarray) -> np.ndarray:
    """Cells whose 3 x 3 neighbourhood holds both inside and outside cells."""
    padded = np.pad(inside, 1, mode="edge")
    return (inside | neighbours(padded, np.logical_or)) & ~(inside & neighbours(padded, np.logical_and))


def neighbours(a: np.ndarray, combine: np.ufunc) -> np.ndarray:
    """``combine`` (np.maximum, np.logical_or) of each pixel's 8 neighbours in ``a`` (along its last two axes),
    for the pixels 1 px in from its border: (..., h - 2, w - 2)."""
    h, w = a.shape[-2] - 2, a.shape[-1] - 2
    return functools.reduce(combine, [a[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy in (-1, 0, 1)
                                      for dx in (-1, 0, 1) if dy or dx])


def guided_edges(out: np.ndarray, logits: np.ndarray, guide: np.ndarray, radius: float = 2.0,
                 eps: float = 1e-3) -> None:
    """Re-decide, in place, the pixels of ``out`` near the logits' boundary with a guided filter.

    The filter input is sigmoid(logits) bilinearly sampled; the guide is the photo (any dtype, (H, W, C)). Work
    happens tile by tile on a grid ``step`` pixels apart, where the radius is GUIDED_SAMPLES samples; the
    filter's linear coefficients are then interpolated back and applied to the full-resolution guide.
    """
    height, width = out.shape
    n = logits.shape[0]
    g = Grid.of(n, width, height)
    cell_x, cell_y = g.cell_x, g.cell_y
    mixed = _neighbourhood_mixed(logits > 0)
    radius_px = max(radius / g.scale_x, MIN_RADIUS_PX)
    step = max(1, int(round(radius_px / GUIDED_SAMPLES)))
    r = max(1, int(round(radius_px / step)))
    tile = max(TILE_CELLS, int(round(TILE_PX * g.scale_x)))
    white = white_level(guide)
    for ty in range(0, n, tile):
        for tx in range(0, n, tile):
            if not mixed[ty:ty + tile, tx:tx + tile].any():
                continue
            r0, r1 = np.searchsorted(cell_y, [ty, ty + tile])
            c0, c1 = np.searchsorted(cell_x, [tx, tx + tile])
            if r0 == r1 or c0 == c1:
                continue
            band = mixed[cell_y[r0:r1]][:, cell_x[c0:c1]]
            region = out[r0:r1, c0:c1]
            region[band] = _guided_tile(logits, g, guide, white, (r0, r1, c0, c1), band, step, r, eps) > 0.5


def _guided_tile(logits: np.ndarray, g: Grid, guide: np.ndarray, white: float, box: tuple[int, int, int, int],
                 band: np.ndarray, step: int, r: int, eps: float) -> np.ndarray:
    """The guided filter output at the ``band`` pixels (a bool array over the box) of pixel rows r0:r1, columns
    c0:c1 (margins come from the surrounding photo). Only the band's pixels are computed at full resolution.

    Where the photo is flat it has no edge to offer and the filter would only blur (round corners), so the
    output leans on the model's own soft mask there, weighted by the local contrast var / (var + eps).
    """
    r0, r1, c0, c1 = box
    height, width = guide.shape[:2]
    margin = (r + 1) * step
    # the working grid: sample centres every ``step`` pixels, covering the box and its margin
    ys = _sample_centres(max(0, r0 - margin), min(height, r1 + margin), step)
    xs = _sample_centres(max(0, c0 - margin), min(width, c1 + margin), step)
    small = _block_mean(guide, ys, xs, step) / white
    coefficients = _guided_coefficients(small, _soft_mask(logits, g, ys, xs), r, eps)
    # coefficients back at full resolution, at the band's pixels only
    rows, cols = np.nonzero(band)
    rows, cols = rows + r0, cols + c0
    coefficients = bilinear_points(coefficients, (rows - ys[0]) / step, (cols - xs[0]) / step)
    c = guide.shape[2]
    full = guide[rows, cols].astype(np.float32) / white
    q = np.einsum("nc,nc->n", coefficients[:, :c], full) + coefficients[:, c]
    trust = coefficients[:, c + 1]
    soft = bilinear_points(logits, (rows + 0.5) * g.scale_y - 0.5, (cols + 0.5) * g.scale_x - 0.5)
    return trust * q + (1 - trust) * _sigmoid(soft)


def _soft_mask(logits: np.ndarray, g: Grid, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """sigmoid(logits) bilinearly sampled on the grid of pixel positions ys (rows) x xs (columns): float32."""
    return _sigmoid(bilinear(logits, (ys + 0.5) * g.scale_y - 0.5, (xs + 0.5) * g.scale_x - 0.5))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 + 0.5 * np.tanh(0.5 * x)).astype(np.float32)


def white_level(guide: np.ndarray) -> float:
    return float(np.iinfo(guide.dtype).max) if guide.dtype.kind in "ui" else 1.0


def _sample_centres(lo: int, hi: int, step: int) -> np.ndarray:
    """Centres (in pixels) of the ``step``-wide blocks covering pixels lo..hi."""
    return lo + (step - 1) / 2.0 + step * np.arange(max(1, -(-(hi - lo) // step)))


def _block_mean(guide: np.ndarray, ys: np.ndarray, xs: np.ndarray, step: int) -> np.ndarray:
    """Mean of the step x step blocks centred at ys, xs (blocks past the edge replicate it): (h, w, C)."""
    h, w = len(ys), len(xs)
    r0, c0 = int(round(ys[0] - (step - 1) / 2)), int(round(xs[0] - (step - 1) / 2))
    sub = guide[r0:r0 + h * step, c0:c0 + w * step]
    short = (h * step - sub.shape[0], w * step - sub.shape[1])
    if any(short):
        sub = np.pad(sub, ((0, short[0]), (0, short[1]), (0, 0)), mode="edge")
    return block_mean(sub, step)


def box_mean(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over (2r+1)^2 windows clipped at the borders, along the first two axes (cumulative sums)."""
    for axis in (0, 1):
        a = np.moveaxis(a, axis, 0)
        n = a.shape[0]
        c = np.concatenate([np.zeros_like(a[:1]), np.cumsum(a, axis=0)])
        hi = np.minimum(np.arange(n) + r + 1, n)
        lo = np.maximum(np.arange(n) - r, 0)
        a = np.moveaxis((c[hi] - c[lo]) / (hi - lo).astype(np.float32).reshape((-1,) + (1,) * (a.ndim - 1)), 0, axis)
    return a


def _guided_coefficients(guide: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (colour or grey guide): smoothed a (C), b and the contrast weight, stacked.

    q = a . I + b; the weight var / (var + eps) says how much the photo has to say about the edge.
    All window means go through one box filter call (stacked channels): on small tiles the call count is the cost.
    """
    c = guide.shape[2]
    pairs = [(i, j) for i in range(c) for j in range(i, c)]
    stack = np.concatenate([guide, p[..., None], guide * p[..., None],
                            np.stack([guide[..., i] * guide[..., j] for i, j in pairs], axis=-1)], axis=-1)
    means = box_mean(stack, r)
    mean_i, mean_p = means[..., :c], means[..., c]
    cov_ip = means[..., c + 1:2 * c + 1] - mean_i * mean_p[..., None]
    var = [means[..., 2 * c + 1 + k] - mean_i[..., i] * mean_i[..., j] for k, (i, j) in enumerate(pairs)]
    contrast = np.maximum(sum(v for v, (i, j) in zip(var, pairs) if i == j) / c, 0.0)
    var = [v + (eps if i == j else 0.0) for v, (i, j) in zip(var, pairs)]
    a = cov_ip / var[0][..., None] if c == 1 else _solve_symmetric3(var, cov_ip)
    b = mean_p - np.einsum("hwc,hwc->hw", a, mean_i)
    return box_mean(np.concatenate([a, b[..., None], (contrast / (contrast + eps))[..., None]], axis=-1), r)


def _solve_symmetric3(m: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Per-pixel solution of S x = y, S symmetric 3 x 3 given as (s00, s01, s02, s11, s12, s22): the adjugate."""
    a, b, c, d, e, f = m
    co = (d * f - e * e, c * e - b * f, b * e - c * d, a * f - c * c, b * c - a * e, a * d - b * b)
    det = a * co[0] + b * co[1] + c * co[2]
    rows = ((0, 1, 2), (1, 3, 4), (2, 4, 5))
    return np.stack([sum(co[k] * y[..., j] for j, k in enumerate(row)) / det for row in rows], axis=-1)
