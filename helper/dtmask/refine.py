"""From model-frame logits to a clean full-resolution mask (docs/design.md, "Refinement"), numpy only.

Stages, each switchable through :class:`Refinement`:

- ``guided``: the 256 x 256 logits place an edge only to within a cell (about 23 px on a 24 MP photo). A guided
  filter (He et al., "Guided Image Filtering") snaps that edge onto the photo's own edge. It runs only in tiles
  along the mask boundary, at a resolution where its radius is a few samples ("fast guided filter"), and is
  evaluated at full resolution, so a 24 MP mask stays the only big array.
- ``components``: drop parts not connected to a positive click (stray islands the model also lit up).
- ``holes``: fill holes smaller than a fraction of the object, unless a negative click marks them as real.
- ``zoom`` (run by :meth:`dtmask.Model.decode`): small objects are decoded again on a crop encoded at the model's
  full resolution; its logits replace the global ones inside the crop.
- ``matte``: a soft alpha along the edge where the photo shows one (fur, hair, grass): within ``matte_radius``
  inside the mask's edge and ``matte_reach`` outside it, each pixel's colour is unmixed into the object's and the
  background's colours nearby;
  the mask's 0.5 edge never moves, so a hard edge stays where the stages above put it.
- ``feather``: an optional soft edge in pixels.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import repeat
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from .engines.base import physical_cores
from .geometry import bilinear, bilinear_axis, bilinear_points, block_mean, lowres_scales, lowres_shape

STRIP_ROWS = 512
TILE_CELLS, TILE_PX = 8, 128  # edge tiles of the guided filter: 8 cells a side, or 128 pixels in small images
GUIDED_SAMPLES = 4  # the guided filter's radius in samples of its working grid
MIN_RADIUS_PX = 2.0  # in small images a cell is under a pixel: still look this far for the edge
MIN_ZOOM_PX = 256  # smallest zoom crop side: below that the model sees mostly upscaled blur

Point = tuple[float, float]


@dataclass(frozen=True)
class Refinement:
    """Which refinement stages run and how strongly; the defaults are what ``dtmask segment`` uses.

    ``Refinement.raw()`` switches everything off: the model's logits bilinearly upsampled and thresholded.
    """

    guided: bool = True
    radius: float = 2.0  # guided filter radius, in low-res logit cells (1 cell = 4 model-frame pixels)
    eps: float = 1e-3  # guided filter regularisation on a 0..1 guide: larger keeps the model's edge more
    components: bool = True
    island_fraction: float = 0.05  # without a positive click (box only): keep parts at least this of the largest
    holes: bool = True
    hole_fraction: float = 0.002  # fill holes below this fraction of the object's area
    first_choice: bool = True  # a lone first click: choose among the decoder's ambiguity masks (Model.decode)
    first_area_penalty: float = 0.2  # ... by predicted IoU minus this times the fraction of the image covered
    zoom: bool = True
    zoom_below: float = 0.25  # zoom when the crop is below this fraction of the image side (a 4x finer view)
    zoom_margin: float = 0.25  # crop margin around the object, as a fraction of its size
    zoom_agreement: float = 0.7  # keep the zoom answer only if its IoU with the image's answer is at least this
    matte: bool = True
    matte_radius: float = 16.0  # pixels inside the mask's edge that get a soft alpha
    matte_reach: float = 24.0  # pixels outside it that do: strands reach further out than the body's edge lies in
    matte_eps: float = 1e-3  # squared 0..1 colour difference below which inside and outside are alike: mask kept
    matte_floor: float = 1.75  # standard deviations of the photo's noise taken out of the alpha: hard edges stay hard
    feather: float = 0.0  # soft edge, pixels

    @classmethod
    def raw(cls) -> "Refinement":
        """No refinement at all (the benchmark's ``--raw``)."""
        return cls(guided=False, components=False, holes=False, zoom=False, first_choice=False, matte=False)

    def without(self, stages: Iterable[str]) -> "Refinement":
        """These stages switched off, by their names in ``STAGES`` (``all``: :meth:`raw`, keeping the feather)."""
        stages = set(stages)
        if "all" in stages:
            return replace(Refinement.raw(), feather=self.feather)
        return replace(self, **{STAGES[name]: False for name in stages})

    def with_feather(self, px: float) -> "Refinement":
        return replace(self, feather=px) if px else self


@dataclass
class Patch:
    """Logits over the model frame of a file-frame rectangle (x0, y0, x1, y1): the whole image, or a zoom crop."""

    logits: np.ndarray
    rect: tuple[int, int, int, int]

    @property
    def size(self) -> tuple[int, int]:
        x0, y0, x1, y1 = self.rect
        return x1 - x0, y1 - y0


def refine_mask(patches: Sequence[Patch], width: int, height: int, pixels: np.ndarray | None,
                points: Sequence[Point] = (), negatives: Sequence[Point] = (),
                options: Refinement = Refinement()) -> np.ndarray:
    """The full-resolution float32 mask (H, W) from one or more patches, later patches pasted over earlier ones.

    ``pixels`` is the file-frame photo (H, W, C) that guides the edges (None skips the guided stage).
    """
    out = None
    for patch in patches:
        x0, y0, x1, y1 = patch.rect
        w, h = patch.size
        guide = pixels[y0:y1, x0:x1] if options.guided and pixels is not None else None
        mask = _render(patch.logits, w, h, guide, options)
        if out is None and (w, h) == (width, height):
            out = mask
            continue
        if out is None:
            out = np.zeros((height, width), np.float32)
        out[y0:y1, x0:x1] = mask
    assert out is not None, "refine_mask needs at least one patch"
    if options.components or options.holes:
        clean_components(out, points, negatives, options)
    if options.matte and pixels is not None:
        matte(out, pixels, options.matte_radius, options.matte_eps, options.matte_floor, options.matte_reach)
    return feather(out, options.feather)


# the stages as ``dtmask segment --no-refine`` names them -> Refinement fields
STAGES = {"edges": "guided", "components": "components", "holes": "holes", "zoom": "zoom",
          "first-choice": "first_choice", "matte": "matte"}

WHOLE_FRAME = 0.9  # an answer covering this much of the image is no object


def area_fraction(logits: np.ndarray, width: int, height: int) -> float:
    """The fraction of a W x H image that an answer's logits cover (the letterbox padding left out)."""
    rows, cols = lowres_shape(width, height, logits.shape[0])
    return np.count_nonzero(logits[:rows, :cols] > 0) / (rows * cols)


def zoom_rect(logits: np.ndarray, width: int, height: int, points: Sequence[Point] = (),
              options: Refinement = Refinement(),
              current: tuple[int, int, int, int] | None = None) -> tuple[int, int, int, int] | None:
    """The crop (x0, y0, x1, y1) to decode again at full model resolution, or None when zooming gains little.

    The crop holds the mask and the positive clicks plus a margin. The ``current`` crop (the last click's) is
    kept while the object stays well inside it, so that a click costs no new encoding; a new crop's corners
    snap to a coarse grid.
    """
    g = _Grid.of(logits.shape[0], width, height)
    ys, xs = np.nonzero(logits > 0)
    if not len(ys):
        return None
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x_lo = min(xs.min() / g.scale_x, pts[:, 0].min(initial=np.inf))
    x_hi = max((xs.max() + 1) / g.scale_x, pts[:, 0].max(initial=-np.inf))
    y_lo = min(ys.min() / g.scale_y, pts[:, 1].min(initial=np.inf))
    y_hi = max((ys.max() + 1) / g.scale_y, pts[:, 1].max(initial=-np.inf))
    extent = max(x_hi - x_lo, y_hi - y_lo)
    if current is not None:
        cx0, cy0, cx1, cy1 = current
        inset = options.zoom_margin / 2 * extent
        if cx0 + inset <= x_lo and x_hi <= cx1 - inset and cy0 + inset <= y_lo and y_hi <= cy1 - inset:
            return current
    side = extent * (1 + 2 * options.zoom_margin)
    longest = max(width, height)
    if side > options.zoom_below * longest:
        return None
    side = max(side, MIN_ZOOM_PX)
    snap = max(8, longest // 64)
    rect = []
    for centre, size in (((x_lo + x_hi) / 2, width), ((y_lo + y_hi) / 2, height)):
        lo = int(np.clip(centre - side / 2, 0, max(0, size - side)) // snap * snap)
        hi = min(size, -(-int(np.ceil(lo + side)) // snap) * snap)
        rect += [lo, hi]
    return rect[0], rect[2], rect[1], rect[3]


def crop_logits(logits: np.ndarray, width: int, height: int, rect: tuple[int, int, int, int]) -> np.ndarray:
    """The image's (n, n) logits resampled onto the model frame of a crop: the zoom decode's prior mask."""
    n = logits.shape[0]
    x0, y0, x1, y1 = rect
    outer, inner = _Grid.of(n, width, height), _Grid.of(n, x1 - x0, y1 - y0)
    centres = (np.arange(n) + 0.5)  # crop cells -> crop pixels -> image pixels -> image cells
    xs = (centres / inner.scale_x - 0.5 + x0 + 0.5) * outer.scale_x - 0.5
    ys = (centres / inner.scale_y - 0.5 + y0 + 0.5) * outer.scale_y - 0.5
    return bilinear(logits, ys, xs).astype(np.float32)


def agrees(logits: np.ndarray, zoom: np.ndarray, width: int, height: int, rect: tuple[int, int, int, int],
           options: Refinement = Refinement()) -> bool:
    """Whether a zoom answer is the same object as the image's answer (IoU on the crop's grid).

    On a tight crop the model sometimes picks the whole crop or a part; such an answer is discarded.
    """
    x0, y0, x1, y1 = rect
    rows, cols = lowres_shape(x1 - x0, y1 - y0, zoom.shape[0])
    valid = (slice(0, rows), slice(0, cols))
    before = crop_logits(logits, width, height, rect)[valid] > 0
    after = zoom[valid] > 0
    union = (before | after).sum()
    return bool(union) and (before & after).sum() / union >= options.zoom_agreement


# --- upsampling --------------------------------------------------------------------------------------------

@dataclass
class _Grid:
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
    def of(cls, n: int, width: int, height: int) -> "_Grid":
        sx, sy = lowres_scales(width, height, n)
        return cls(*bilinear_axis(n, width, sx), *bilinear_axis(n, height, sy), scale_x=sx, scale_y=sy)

    @property
    def cell_x(self) -> np.ndarray:
        """The cell whose centre is nearest each pixel column."""
        return np.where(self.xf < 0.5, self.xi0, self.xi1)

    @property
    def cell_y(self) -> np.ndarray:
        return np.where(self.yf < 0.5, self.yi0, self.yi1)


def upsample_mask(logits: np.ndarray, width: int, height: int, threshold: float = 0.0) -> np.ndarray:
    """Bilinearly upsample (n, n) model-frame logits to the W x H file frame and threshold them: float32 0/1.

    Exact and fast: a pixel whose low-res cell and its 8 neighbours agree gets their value by lookup (bilinear
    weights are a convex mix of those cells); only pixels of cells on the boundary are interpolated.
    """
    g = _Grid.of(logits.shape[0], width, height)
    cell_x, cell_y = g.cell_x, g.cell_y
    inside = logits > threshold
    # zeros come from fresh pages at no cost: only the box of the inside cells is looked up
    out = np.zeros((height, width), np.float32)
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
    return (inside | _neighbours(padded, np.logical_or)) & ~(inside & _neighbours(padded, np.logical_and))


def _neighbours(a: np.ndarray, combine: np.ufunc) -> np.ndarray:
    """``combine`` (np.maximum, np.logical_or) of each pixel's 8 neighbours in ``a`` (along its last two axes),
    for the pixels 1 px in from its border: (..., h - 2, w - 2)."""
    h, w = a.shape[-2] - 2, a.shape[-1] - 2
    return functools.reduce(combine, [a[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy in (-1, 0, 1)
                                      for dx in (-1, 0, 1) if dy or dx])


def _render(logits: np.ndarray, width: int, height: int, guide: np.ndarray | None,
            options: Refinement) -> np.ndarray:
    """One patch at full resolution: the exact bilinear mask, then its boundary band re-decided by the guide."""
    out = upsample_mask(logits, width, height)
    if guide is not None:
        guided_edges(out, logits, guide, options.radius, options.eps)
    return out


def guided_edges(out: np.ndarray, logits: np.ndarray, guide: np.ndarray, radius: float = 2.0,
                 eps: float = 1e-3) -> None:
    """Re-decide, in place, the pixels of ``out`` near the logits' boundary with a guided filter.

    The filter input is sigmoid(logits) bilinearly sampled; the guide is the photo (any dtype, (H, W, C)). Work
    happens tile by tile on a grid ``step`` pixels apart, where the radius is GUIDED_SAMPLES samples; the
    filter's linear coefficients are then interpolated back and applied to the full-resolution guide.
    """
    height, width = out.shape
    n = logits.shape[0]
    g = _Grid.of(n, width, height)
    cell_x, cell_y = g.cell_x, g.cell_y
    mixed = _neighbourhood_mixed(logits > 0)
    radius_px = max(radius / g.scale_x, MIN_RADIUS_PX)
    step = max(1, int(round(radius_px / GUIDED_SAMPLES)))
    r = max(1, int(round(radius_px / step)))
    tile = max(TILE_CELLS, int(round(TILE_PX * g.scale_x)))
    white = _white(guide)
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


def _guided_tile(logits: np.ndarray, g: _Grid, guide: np.ndarray, white: float, box: tuple[int, int, int, int],
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


def _soft_mask(logits: np.ndarray, g: _Grid, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """sigmoid(logits) bilinearly sampled on the grid of pixel positions ys (rows) x xs (columns): float32."""
    return _sigmoid(bilinear(logits, (ys + 0.5) * g.scale_y - 0.5, (xs + 0.5) * g.scale_x - 0.5))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 + 0.5 * np.tanh(0.5 * x)).astype(np.float32)


def _white(guide: np.ndarray) -> float:
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


def _box_mean(a: np.ndarray, r: int) -> np.ndarray:
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
    means = _box_mean(stack, r)
    mean_i, mean_p = means[..., :c], means[..., c]
    cov_ip = means[..., c + 1:2 * c + 1] - mean_i * mean_p[..., None]
    var = [means[..., 2 * c + 1 + k] - mean_i[..., i] * mean_i[..., j] for k, (i, j) in enumerate(pairs)]
    contrast = np.maximum(sum(v for v, (i, j) in zip(var, pairs) if i == j) / c, 0.0)
    var = [v + (eps if i == j else 0.0) for v, (i, j) in zip(var, pairs)]
    a = cov_ip / var[0][..., None] if c == 1 else _solve_symmetric3(var, cov_ip)
    b = mean_p - np.einsum("hwc,hwc->hw", a, mean_i)
    return _box_mean(np.concatenate([a, b[..., None], (contrast / (contrast + eps))[..., None]], axis=-1), r)


def _solve_symmetric3(m: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Per-pixel solution of S x = y, S symmetric 3 x 3 given as (s00, s01, s02, s11, s12, s22): the adjugate."""
    a, b, c, d, e, f = m
    co = (d * f - e * e, c * e - b * f, b * e - c * d, a * f - c * c, b * c - a * e, a * d - b * b)
    det = a * co[0] + b * co[1] + c * co[2]
    rows = ((0, 1, 2), (1, 3, 4), (2, 4, 5))
    return np.stack([sum(co[k] * y[..., j] for j, k in enumerate(row)) / det for row in rows], axis=-1)


# --- connected components ----------------------------------------------------------------------------------

@dataclass
class _Runs:
    """Horizontal runs of True pixels (row, start, end exclusive), in row-major order, with component labels."""

    rows: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    labels: np.ndarray
    width: int

    @classmethod
    def of(cls, mask: np.ndarray) -> "_Runs":
        """Label the 8-connected components of a bool mask: runs joined by a vectorised union-find."""
        h, w = mask.shape
        parts = []
        for r0 in range(0, h, STRIP_ROWS):
            rows, starts, ends = _row_runs(mask[r0:r0 + STRIP_ROWS])
            parts.append((rows + r0, starts, ends))
        rows, starts, ends = (np.concatenate(x).astype(np.int64) for x in zip(*parts))
        return cls(rows, starts, ends, _union_runs(rows, starts, ends, w), w)

    def without(self, labels: np.ndarray) -> "_Runs":
        """These runs with the given components' runs taken out (labels stay as they were)."""
        keep = ~np.isin(self.labels, labels)
        return _Runs(self.rows[keep], self.starts[keep], self.ends[keep], self.labels[keep], self.width)

    def gaps(self, height: int) -> "_Runs":
        """The runs of the complement over ``height`` rows (the False pixels), labelled: no second pass over
        the pixels. Each run's gap ends where it starts; each row's last gap ends at the width."""
        first, last = np.ones(len(self.rows), bool), np.ones(len(self.rows), bool)  # a row's first and last runs
        first[1:] = last[:-1] = self.rows[1:] != self.rows[:-1]
        before = np.where(first, 0, np.r_[0, self.ends[:-1]])
        empty = np.setdiff1d(np.arange(height), self.rows)
        rows = np.concatenate([self.rows, self.rows[last], empty])
        starts = np.concatenate([before, self.ends[last], np.zeros_like(empty)])
        ends = np.concatenate([self.starts, np.full(int(last.sum()), self.width), np.full(len(empty), self.width)])
        kept = starts < ends
        rows, starts, ends = rows[kept], starts[kept], ends[kept]
        order = np.argsort(rows * (self.width + 1) + starts, kind="stable")
        rows, starts, ends = rows[order], starts[order], ends[order]
        return _Runs(rows, starts, ends, _union_runs(rows, starts, ends, self.width), self.width)

    def count(self) -> int:
        return int((self.ends - self.starts).sum())

    def find(self, points: Sequence[Point]) -> np.ndarray:
        """Labels of the components under the given (x, y) points (points off the mask are skipped)."""
        if not len(points) or not len(self.rows):
            return np.zeros(0, np.int64)
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2).astype(np.int64)
        key = self.rows * (self.width + 1) + self.starts
        idx = np.searchsorted(key, pts[:, 1] * (self.width + 1) + pts[:, 0], side="right") - 1
        idx = np.clip(idx, 0, len(key) - 1)
        hit = (self.rows[idx] == pts[:, 1]) & (self.starts[idx] <= pts[:, 0]) & (pts[:, 0] < self.ends[idx])
        return np.unique(self.labels[idx[hit]])

    def areas(self) -> np.ndarray:
        return np.bincount(self.labels, weights=self.ends - self.starts, minlength=len(self.rows))

    def touching_border(self, height: int) -> np.ndarray:
        """Labels of components that reach the image border."""
        edge = (self.rows == 0) | (self.rows == height - 1) | (self.starts == 0) | (self.ends == self.width)
        return np.unique(self.labels[edge])

    def paint(self, target: np.ndarray, labels: np.ndarray, value: float | bool) -> None:
        """Set the pixels of the given components to ``value``."""
        sel = np.isin(self.labels, labels)
        rows, starts, lengths = self.rows[sel], self.starts[sel], (self.ends - self.starts)[sel]
        if not lengths.sum():
            return
        cols = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
        target[np.repeat(rows, lengths), cols] = value  # 2-D indices: ``target`` may be a view


def _row_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of True pixels of a bool mask: rows, starts, ends (exclusive), in row-major order."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), bool)
    padded[:, 1:-1] = mask
    # where the value changes, in row-major order: every row opens and closes its runs in turn, as it starts and
    # ends False (one bool comparison, not an int8 diff tested twice: docs/benchmarks.md)
    rows, cols = np.nonzero(padded[:, 1:] != padded[:, :-1])
    return rows[0::2], cols[0::2], cols[1::2]


def _union_runs(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """Component label (the smallest run index) of each run; runs in adjacent rows that touch are joined."""
    n = len(rows)
    if n == 0:
        return np.zeros(0, np.int64)
    k = width + 2
    start_key, end_key = rows * k + starts, rows * k + ends
    # run j of the next row touches run i (8-connected) when start_j <= end_i and end_j >= start_i
    lo = np.searchsorted(end_key, (rows + 1) * k + starts, side="left")
    hi = np.searchsorted(start_key, (rows + 1) * k + ends, side="right")
    count = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(n), count)
    b = np.repeat(lo - np.concatenate([[0], np.cumsum(count)[:-1]]), count) + np.arange(count.sum())
    parent = np.arange(n)
    while True:
        ra, rb = parent[a], parent[b]
        if np.array_equal(ra, rb):
            return parent
        low = np.minimum(ra, rb)
        np.minimum.at(parent, ra, low)
        np.minimum.at(parent, rb, low)
        while True:  # pointer jumping: every run points at its root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def joined_to(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The 8-connected parts of a bool mask that touch ``seeds`` (a bool array of the same shape)."""
    runs = _Runs.of(mask)
    counts = np.zeros((mask.shape[0], mask.shape[1] + 1), np.int64)
    np.cumsum(seeds, axis=1, out=counts[:, 1:])
    touching = counts[runs.rows, runs.ends] > counts[runs.rows, runs.starts]
    out = np.zeros(mask.shape, bool)
    runs.paint(out, np.unique(runs.labels[touching]), True)
    return out


def clean_components(mask: np.ndarray, points: Sequence[Point] = (), negatives: Sequence[Point] = (),
                     options: Refinement = Refinement()) -> None:
    """In place: keep the parts under positive clicks, then fill small holes no negative click marked.

    When no positive click hits the mask (a box prompt, or a click the model left out) parts of at least
    ``island_fraction`` of the largest are kept instead, so the stage never empties a mask by itself.
    Work happens on the mask's bounding box plus one pixel: outside it there is only background.
    """
    inside = mask > 0.5
    rows, cols = np.nonzero(inside.any(axis=1))[0], np.nonzero(inside.any(axis=0))[0]
    if not rows.size:
        return
    y0, x0 = max(0, rows[0] - 1), max(0, cols[0] - 1)
    y1, x1 = rows[-1] + 2, cols[-1] + 2
    view, inside = mask[y0:y1, x0:x1], inside[y0:y1, x0:x1]

    def shifted(pts: Sequence[Point]) -> list[Point]:
        return [(x - x0, y - y0) for x, y in pts]

    runs = _Runs.of(inside)
    if options.components:
        areas = runs.areas()
        keep = runs.find(shifted(points))
        if not keep.size:
            keep = np.nonzero(areas >= options.island_fraction * areas.max())[0]
        drop = np.setdiff1d(np.nonzero(areas)[0], keep)
        if drop.size:
            runs.paint(view, drop, 0.0)
            runs = runs.without(drop)
    if options.holes:
        gaps = runs.gaps(view.shape[0])
        areas = gaps.areas()
        small = np.nonzero((areas > 0) & (areas < options.hole_fraction * runs.count()))[0]
        fill = np.setdiff1d(small, np.union1d(gaps.touching_border(view.shape[0]), gaps.find(shifted(negatives))))
        if fill.size:
            gaps.paint(view, fill, 1.0)


# --- matte ---------------------------------------------------------------------------------------------------

MATTE_TILE = 128  # pixels a side of the matte's work tiles
MATTE_WINDOW = 8  # pixels: the radius of the window whose colours give a pixel its F and B
MATTE_PASSES = 3  # estimates of F, B and alpha, each weighted by the alpha of the pass before
MATTE_STEP = 4  # pixels a side of a sample of the grid the windows are summed on
MATTE_SPREAD = 0.5  # how far the windows' colour spread holds back the trust in an unmixed alpha
HELD_IN = np.nextafter(np.float32(0.5), np.float32(1))  # the least alpha that still counts as inside


def matte(mask: np.ndarray, guide: np.ndarray, radius: float = 16.0, eps: float = 1e-3, floor: float = 1.75,
          reach: float = 24.0) -> None:
    """In place: pixels within ``radius`` inside the mask's edge and ``reach`` outside it get an alpha from the
    photo ``guide`` (H, W, C).

    Each such pixel's colour I is taken as a mix of the object's colour F and the background's B nearby
    (I = alpha F + (1 - alpha) B, the compositing equation): alpha = (I - B).(F - B) / |F - B|^2. F and B are the
    colours of a window around the pixel weighted by alpha^4 and (1 - alpha)^4 (Chuang et al.'s Bayesian matting
    weighs by the squares; the higher power keeps mixed pixels' colours out of F and B), first with the 0/1 mask's
    alpha, then with each pass's own: a strand lighter than the body soon gives its own colour to F, which the
    body's colour alone could not unmix. The answer is trusted by |F - B|^2 / (|F - B|^2 + MATTE_SPREAD spread +
    eps), ``spread`` the variances of the window's F and B colours: where inside and outside look alike the 0/1
    mask stays. In the last pass what the window's noise alone would give
    (``floor`` standard deviations along F - B) is taken out of the alpha, and a pixel keeps no more of it than a
    neighbour has; partial opacity not joined to the object through partial opacity is dropped (strands grow
    from the body, noise makes specks), so a hard edge gets no faint opacity around it. The matte never moves
    the edge: a pixel inside keeps an alpha above 0.5 and one outside at most 0.5, so the mask at 0.5 is the one
    the other stages made.

    Runs only on the tiles along the edge, all of them at once: each pass works on the whole band, a tile's
    windows and neighbours past its border reading what the tiles beside it hold, so each pixel is read and
    summed once however long the edge.
    """
    boxes = _band_tiles(mask, MATTE_TILE, max(radius, reach))
    work = _MatteWork(mask, guide, int(round(radius)), int(round(reach)), _white(guide), eps, floor)
    with ThreadPoolExecutor(max_workers=min(physical_cores(), max(1, len(boxes)))) as pool:  # numpy frees the GIL
        band = _Band.of([tile for tile in pool.map(work.tile, boxes) if tile is not None])
        if band is None:
            return
        parts = band.parts(min(physical_cores(), len(band.rest)))  # the passes run on parts of the band at once
        alpha = [band.before[band.pixels_of(part)].astype(np.float32) for part in parts]
        for k in range(MATTE_PASSES):
            sums = np.concatenate(list(pool.map(band.sums, alpha, parts)))
            unmixed = list(pool.map(band.unmix, repeat(sums), repeat(floor if k == MATTE_PASSES - 1 else 0.0),
                                    repeat(eps), parts))
            away = np.concatenate([a for a, _ in unmixed])
            alpha = list(pool.map(band.settle, repeat(away), [t for _, t in unmixed], parts))
    alpha = np.concatenate(alpha)
    loose = band.loose_runs(alpha)  # read before the write: ``before`` is the mask the other stages made
    mask[band.rows, band.cols] = alpha
    _drop_unjoined(mask, loose)


MATTE_CELLS = MATTE_TILE // MATTE_STEP  # cells a side of a tile
MATTE_HALO = MATTE_WINDOW // MATTE_STEP  # cells past a tile's border that its windows read


@dataclass(frozen=True)
class _MatteWork:
    """One matte's inputs, shared by its tiles (each tile reads them only)."""

    mask: np.ndarray
    guide: np.ndarray
    radius: int  # pixels inside the edge that get an alpha
    reach: int  # pixels outside it that do
    white: float
    eps: float
    floor: float

    def tile(self, box: tuple[int, int, int, int]) -> "_TilePart | None":
        """A tile's part of the band; None without a band."""
        height, width = self.mask.shape
        r0, r1, c0, c1 = box
        halo = MATTE_HALO * MATTE_STEP  # pixels past the tile that its windows read
        depth = halo + max(self.radius, self.reach) + 1  # and the band there depends on the mask this far
        y0, x0 = max(0, r0 - depth), max(0, c0 - depth)
        inside = self.mask[y0:min(height, r1 + depth), x0:min(width, c1 + depth)] > 0.5
        band = _near_edge(inside, self.radius, self.reach)
        tile = (slice(r0 - y0, r1 - y0), slice(c0 - x0, c1 - x0))
        if not band[tile].any():
            return None
        fy0, fy1, fx0, fx1 = max(0, r0 - halo), min(height, r1 + halo), max(0, c0 - halo), min(width, c1 + halo)
        colour = np.moveaxis(self.guide[fy0:fy1, fx0:fx1], -1, 0).astype(np.float32)  # planes: (C, h, w)
        colour *= np.float32(1 / self.white)
        square = np.einsum("chw,chw->hw", colour, colour)
        frame = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
        side = MATTE_TILE + 2 * halo  # the frame at full size; zeros past the image stay out of every sum
        rest = _off_band_sums(colour, square, inside[frame], band[frame],
                              ((fy0 - r0 + halo, r0 + side - halo - fy1), (fx0 - c0 + halo, c0 + side - halo - fx1)))
        rows, cols = np.nonzero(band[tile])
        cell = (rows // MATTE_STEP) * MATTE_CELLS + cols // MATTE_STEP
        order = np.argsort(cell, kind="stable")
        rows, cols, cell = rows[order], cols[order], cell[order]
        starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
        touch = np.zeros((MATTE_TILE, MATTE_TILE), bool)
        touch[:r1 - r0, :c1 - c0] = _neighbours(np.pad(inside, 1), np.logical_or)[tile]
        y, x = rows + r0 - fy0, cols + c0 - fx0
        pixels = np.concatenate([colour[:, y, x], square[None, y, x]])
        return _TilePart(box, rows, cols, pixels, self.mask[r0:r1, c0:c1][rows, cols], starts, cell[starts], rest,
                         touch)


class _TilePart(NamedTuple):
    """One tile's part of the band, in the tile's own frame (:class:`_Band` holds every tile's)."""

    box: tuple[int, int, int, int]  # the tile in the mask: r0, r1, c0, c1
    rows: np.ndarray  # the pixels that get an alpha, ordered by cell
    cols: np.ndarray
    pixels: np.ndarray  # their colours and squared norms, (C + 1, n)
    before: np.ndarray  # their values in the mask the other stages made
    starts: np.ndarray  # where each cell's pixels start
    cells: np.ndarray  # which cell it is (row * MATTE_CELLS + column)
    rest: np.ndarray  # the sums off the band over the tile's cells and MATTE_HALO more around (_off_band_sums)
    touch: np.ndarray  # the pixels beside the inside, (MATTE_TILE, MATTE_TILE)


@dataclass(frozen=True)
class _Band:
    """The band along the mask's edge, every tile's part at once. Pixels are ordered by tile and by cell; the
    tiles' arrays are stacked at full size (a tile cut at the image's border is padded with zeros)."""

    origins: np.ndarray  # each tile's first row and column in the mask: (t, 2)
    rows: np.ndarray  # the pixels in the mask
    cols: np.ndarray
    at: np.ndarray  # the pixels in the stack of tiles (tile, row, column), flat
    pixels: np.ndarray  # their colours and squared norms, (C + 1, n)
    before: np.ndarray  # their values in the mask the other stages made
    starts: np.ndarray  # where each cell's pixels start
    cells: np.ndarray  # which cell it is in the stack of the tiles' cells (tile, row, column), flat
    cell_of: np.ndarray  # each pixel's cell, by its place in ``cells``
    rest: np.ndarray  # each tile's sums off the band over its cells and MATTE_HALO more around: (t, h, w, 2C + 5)
    touch: np.ndarray  # the pixels beside the inside, (t, MATTE_TILE, MATTE_TILE)
    around: np.ndarray  # each tile's neighbour tiles (3 x 3, the tile in the middle; -1: none): (t, 3, 3)
    first_pixel: np.ndarray  # where each tile's pixels start, and their end: (t + 1,)
    first_cell: np.ndarray  # where each tile's cells start in ``cells``, and their end: (t + 1,)

    @classmethod
    def of(cls, tiles: list[_TilePart]) -> "_Band | None":
        """The band from its tiles' parts (:meth:`_MatteWork.tile`); None without any."""
        if not tiles:
            return None
        origins = np.array([(t.box[0], t.box[2]) for t in tiles])
        counts = [len(t.rows) for t in tiles]
        tile = np.repeat(np.arange(len(tiles)), counts)
        starts = np.concatenate([t.starts + o for t, o in zip(tiles, np.cumsum([0] + counts[:-1]))])
        key = {(r0 // MATTE_TILE, c0 // MATTE_TILE): i for i, (r0, c0) in enumerate(origins)}
        around = [[[key.get((r0 // MATTE_TILE + dy, c0 // MATTE_TILE + dx), -1) for dx in (-1, 0, 1)]
                   for dy in (-1, 0, 1)] for r0, c0 in origins]
        r, c = np.concatenate([t.rows for t in tiles]), np.concatenate([t.cols for t in tiles])
        return cls(origins, r + origins[tile, 0], c + origins[tile, 1], (tile * MATTE_TILE + r) * MATTE_TILE + c,
                   np.concatenate([t.pixels for t in tiles], axis=1), np.concatenate([t.before for t in tiles]),
                   starts, np.concatenate([t.cells + i * MATTE_CELLS ** 2 for i, t in enumerate(tiles)]),
                   np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(r)])),
                   np.stack([t.rest for t in tiles]), np.stack([t.touch for t in tiles]), np.array(around),
                   np.cumsum([0] + counts), np.cumsum([0] + [len(t.cells) for t in tiles]))

    def parts(self, n: int) -> list[tuple[int, int]]:
        """The band cut into ``n`` runs of whole tiles (first, end) with about as many pixels each."""
        cuts = np.searchsorted(self.first_pixel, np.arange(1, n) * self.first_pixel[-1] / n)
        edges = np.unique(np.r_[0, cuts, len(self.rest)])
        return list(zip(edges[:-1].tolist(), edges[1:].tolist()))

    def pixels_of(self, part: tuple[int, int]) -> slice:
        return slice(self.first_pixel[part[0]], self.first_pixel[part[1]])

    def sums(self, alpha: np.ndarray, part: tuple[int, int]) -> np.ndarray:
        """The part's pixels' colours summed by cell, weighted by alpha^4 and (1 - alpha)^4 (``alpha``, the
        part's): (tiles, MATTE_CELLS, MATTE_CELLS, 2C + 4)."""
        (t0, t1), px, (q0, q1) = part, self.pixels_of(part), self.first_cell[list(part)]
        sums = np.zeros(((t1 - t0) * MATTE_CELLS ** 2, self.rest.shape[-1] - 1), np.float32)
        _add_weighted(sums, self.starts[q0:q1] - px.start, self.cells[q0:q1] - t0 * MATTE_CELLS ** 2,
                      self.pixels[:, px], alpha)
        return sums.reshape(t1 - t0, MATTE_CELLS, MATTE_CELLS, -1)

    def unmix(self, sums: np.ndarray, floor: float, eps: float,
              part: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """One pass on a part of the band: the alpha unmixed from F and B of each pixel's window (``sums``,
        every tile's, weighted by the last pass's alpha), as how far each pixel is from its side of the mask
        (over the part's tiles, 0 off the band), and how far each pixel's answer is trusted. F, B and the spread
        are those of the pixel's cell's window, so all but the unmixing itself runs per cell."""
        (t0, t1), px, (q0, q1) = part, self.pixels_of(part), self.first_cell[list(part)]
        pixels, c = self.pixels[:, px], self.pixels.shape[0] - 1
        totals = self.rest[t0:t1].copy()
        totals[..., :-1] += _halo(sums, self.around[t0:t1], MATTE_HALO)
        span = range(2 * MATTE_HALO + 1)  # a window's cells along each axis, centred on the tile's cells
        totals = functools.reduce(np.add, [totals[:, i:i + MATTE_CELLS] for i in span])
        totals = functools.reduce(np.add, [totals[:, :, i:i + MATTE_CELLS] for i in span])
        means = totals.reshape(-1, totals.shape[-1])[self.cells[q0:q1] - t0 * MATTE_CELLS ** 2]
        means = means[:, :-1] / means[:, -1:]  # the last channel counts the pixels
        weight = means[:, -2:]
        fore = means[:, :c + 1] / np.maximum(weight[:, :1], 1e-6)
        back = means[:, c + 1:2 * c + 2] / np.maximum(weight[:, 1:], 1e-6)
        spread = np.stack([np.maximum(m[:, c] - np.einsum("nc,nc->n", m[:, :c], m[:, :c]), 0)
                           for m in (fore, back)], axis=-1)
        spread = np.where((weight > 1e-3).all(axis=-1, keepdims=True), spread, 1e6)  # no weight: no trust
        d = fore[:, :c] - back[:, :c]
        d2 = np.einsum("nc,nc->n", d, d)
        trust = np.where(d2 > 1e-8, d2 / (d2 + MATTE_SPREAD * spread.sum(axis=1) + eps), 0)  # below: rounding
        d2 = np.maximum(d2, 1e-12)
        noise = floor * np.sqrt(spread / c / d2[:, None])  # in alpha units along F - B: inside, outside
        at, inside = self.cell_of[px] - q0, self.before[px] > 0.5
        unmixed = np.einsum("cn,nc->n", pixels[:c], d[at]) - np.einsum("nc,nc->n", back[:, :c], d)[at]
        unmixed /= d2[at]
        away = np.zeros((t1 - t0) * MATTE_TILE ** 2, np.float32)
        away[self.at[px] - t0 * MATTE_TILE ** 2] = _above_noise(np.where(inside, 1 - unmixed, unmixed),
                                                                np.where(inside, *noise[at].T))
        return away.reshape(-1, MATTE_TILE, MATTE_TILE), trust[at]

    def settle(self, away: np.ndarray, trust: np.ndarray, part: tuple[int, int]) -> np.ndarray:
        """The new alpha of a part's pixels from ``away`` (:meth:`unmix`, every tile's): no pixel keeps more of
        it than its most opaque 8-neighbour has (noise the floor let through makes single pixels, strands and
        edges make runs of pixels), the answer is trusted as far as ``trust`` (the part's) says, and the pixel
        stays on its side of 0.5."""
        (t0, t1), px = part, self.pixels_of(part)
        around = _halo(away, self.around[t0:t1], 1)
        supported = np.minimum(away[t0:t1], _neighbours(around, np.maximum)).reshape(-1)
        supported = supported[self.at[px] - t0 * MATTE_TILE ** 2]
        before = self.before[px]
        inside = before > 0.5
        after = trust * np.where(inside, 1 - supported, supported) + (1 - trust) * before
        return np.where(inside, np.maximum(after, HELD_IN), np.minimum(after, 0.5)).astype(np.float32)

    def loose_runs(self, alpha: np.ndarray) -> tuple[np.ndarray, ...]:
        """The runs (rows, starts, ends in the mask) of partial opacity outside the mask in each tile, and
        whether each touches the inside (8-connected): what :func:`_drop_unjoined` joins across the tiles."""
        outside = np.zeros(len(self.rest) * MATTE_TILE ** 2, bool)
        outside[self.at] = (alpha > 0) & (self.before <= 0.5)
        outside = outside.reshape(-1, MATTE_TILE)  # the tiles' rows one after another
        r, s, e = _row_runs(outside)
        counts = np.zeros((outside.shape[0], MATTE_TILE + 1), np.int32)
        np.cumsum(self.touch.reshape(-1, MATTE_TILE) & outside, axis=1, out=counts[:, 1:])
        r0, c0 = self.origins[r // MATTE_TILE].T
        return r0 + r % MATTE_TILE, c0 + s, c0 + e, counts[r, e] > counts[r, s]


def _halo(stack: np.ndarray, around: np.ndarray, k: int) -> np.ndarray:
    """The arrays in ``stack`` (t, h, w, ...) of the tiles whose neighbours ``around`` gives (:class:`_Band`),
    each with ``k`` rows and columns of its neighbour tiles' arrays around it, zeros where there is none: what
    a window at a tile's border reads."""
    h, w = stack.shape[1:3]
    out = np.zeros((len(around), h + 2 * k, w + 2 * k) + stack.shape[3:], stack.dtype)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            which = around[:, dy + 1, dx + 1]
            have = np.flatnonzero(which >= 0)
            (src_y, dst_y), (src_x, dst_x) = _halo_slices(dy, h, k), _halo_slices(dx, w, k)
            out[have, dst_y, dst_x] = stack[which[have], src_y, src_x]
    return out


def _halo_slices(d: int, n: int, k: int) -> tuple[slice, slice]:
    """Along one axis, the part of the neighbour tile at side ``d`` (-1, 0, 1) that a halo of ``k`` around a
    tile ``n`` long holds, and where it goes in the tile's array with its halo."""
    if d < 0:
        return slice(n - k, n), slice(0, k)
    return (slice(0, k), slice(k + n, 2 * k + n)) if d > 0 else (slice(None), slice(k, k + n))


def _off_band_sums(colour: np.ndarray, square: np.ndarray, inside: np.ndarray, band: np.ndarray,
                   pad: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """The colours (planes, (C, h, w)) and squared norms of the pixels off the band summed by cell of MATTE_STEP
    pixels, those inside and those outside apart, then their counts, then the count of all pixels:
    (cells, cells, 2C + 5). ``pad`` (pixels before and after, along both axes) makes whole cells; zeros stay
    out of every sum."""
    (top, bottom), (left, right) = pad
    c, h, w = colour.shape
    values = np.zeros((2 * c + 5, top + h + bottom, left + w + right), np.float32)
    view = values[:, top:top + h, left:left + w]
    view[2 * c + 2] = inside & ~band
    view[2 * c + 3] = ~inside & ~band
    view[2 * c + 4] = 1
    for side in (0, 1):
        weight, out = view[2 * c + 2 + side], view[side * (c + 1):(side + 1) * (c + 1)]
        np.multiply(colour, weight, out=out[:c])
        np.multiply(square, weight, out=out[c])
    rows = functools.reduce(np.add, [values[:, i::MATTE_STEP] for i in range(MATTE_STEP)])
    return np.moveaxis(functools.reduce(np.add, [rows[:, :, i::MATTE_STEP] for i in range(MATTE_STEP)]), 0, -1)


def _drop_unjoined(mask: np.ndarray, loose: tuple[np.ndarray, ...]) -> None:
    """Set to 0 the partial opacity outside the mask that no path of partial opacity joins to the inside:
    ``loose`` holds the tiles' runs of it (:meth:`_Band.loose_runs`), joined here across the tiles."""
    rows, starts, ends, touching = loose
    if not len(rows):
        return
    order = np.lexsort((starts, rows))
    rows, starts, ends, touching = rows[order].astype(np.int64), starts[order], ends[order], touching[order]
    heads = np.flatnonzero(np.r_[True, (rows[1:] != rows[:-1]) | (starts[1:] != ends[:-1])])  # runs cut at tiles
    tails = np.r_[heads[1:], len(rows)] - 1
    rows, starts, ends = rows[heads], starts[heads].astype(np.int64), ends[tails].astype(np.int64)
    width = mask.shape[1]
    runs = _Runs(rows, starts, ends, _union_runs(rows, starts, ends, width), width)
    runs.paint(mask, np.setdiff1d(runs.labels, runs.labels[np.logical_or.reduceat(touching, heads)]), 0.0)


def _add_weighted(sums: np.ndarray, starts: np.ndarray, heads: np.ndarray, small: np.ndarray,
                  alpha: np.ndarray) -> None:
    """Add to each cell's row of ``sums`` its pixels' colours and squared norms (``small``, planes (C + 1, n),
    pixels ordered by cell, cell ``heads[i]``'s from ``starts[i]``) weighted by alpha^4 and by (1 - alpha)^4
    (:func:`matte`: mixed pixels count little), then the two weights: (cells, 2C + 4)."""
    k = small.shape[0]
    values = np.empty((2 * k + 2, small.shape[1]), np.float32)
    for weight, side in ((values[2 * k], alpha), (values[2 * k + 1], 1 - alpha)):
        np.square(side, out=weight)
        np.square(weight, out=weight)
    np.multiply(small, values[2 * k], out=values[:k])
    np.multiply(small, values[2 * k + 1], out=values[k:2 * k])
    sums[heads] += np.add.reduceat(values, starts, axis=1).T


def _near_edge(inside: np.ndarray, inward: int, outward: int) -> np.ndarray:
    """Pixels inside the mask within ``inward`` (a square's half side) of a pixel whose 4-neighbour lies on the
    mask's other side, and pixels outside it within ``outward``."""
    edge = np.zeros(inside.shape, bool)
    for axis in (0, 1):
        step = np.diff(inside, axis=axis)
        lo, hi = [slice(None)] * 2, [slice(None)] * 2
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        edge[tuple(lo)] |= step
        edge[tuple(hi)] |= step
    near = _grown(edge, min(inward, outward))
    far = _grown(near, abs(outward - inward))  # a square grown by a, then by b, is one grown by a + b
    return np.where(inside, near, far) if outward >= inward else np.where(inside, far, near)


def _grown(edge: np.ndarray, by: int) -> np.ndarray:
    """``edge`` grown by a square of half side ``by``: along each axis, by steps that double."""
    for axis in (0, 1):
        grown, step = 0, 1
        while grown < by:
            shift = min(step, by - grown)
            lo, hi = [slice(None)] * 2, [slice(None)] * 2
            lo[axis], hi[axis] = slice(0, -shift), slice(shift, None)
            wider = edge.copy()
            wider[tuple(hi)] |= edge[tuple(lo)]
            wider[tuple(lo)] |= edge[tuple(hi)]
            edge, grown, step = wider, grown + shift, 2 * step
    return edge


def _above_noise(away: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """How far each pixel is from its side of the mask (``away``: the unmixed, unclipped alpha outside the mask,
    1 - alpha inside), with what the photo's noise alone would give taken out: ``noise``, ``floor`` standard
    deviations of the colours that F and B are the means of, in alpha units along F - B. So a hard edge in a
    noisy or textured photo gets no faint opacity around it, while a strand clearly of the object's colour keeps
    most. A colour past the other side's (a bright star beside dark fur) is no mix of the two: it folds back
    towards its own side."""
    keep = np.clip(1 - noise, 1e-6, 1)
    away = np.where(away > 1, 2 - away, away)
    return np.clip((away - noise) / keep, 0, 1)


def _band_tiles(mask: np.ndarray, tile: int, radius: float) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (r0, r1, c0, c1) of the ``tile``-sided tiles that hold pixels within ``radius`` of an edge of
    the 0/1 mask. Edges are found on cells of a quarter tile (neither all 0 nor all 1), grown by the radius."""
    height, width = mask.shape
    cell = tile // 4
    starts_y, starts_x = np.arange(0, height, cell), np.arange(0, width, cell)
    sums = np.add.reduceat(np.add.reduceat(mask, starts_x, axis=1), starts_y, axis=0)
    areas = np.outer(np.diff(starts_y, append=height), np.diff(starts_x, append=width))
    edge = ((sums > 0) & (sums < areas)).astype(np.float32)
    band = _box_mean(edge, int(np.ceil(radius / cell))) > 0
    rows, cols = -(-band.shape[0] // 4), -(-band.shape[1] // 4)
    padded = np.zeros((rows * 4, cols * 4), bool)
    padded[:band.shape[0], :band.shape[1]] = band
    hit = padded.reshape(rows, 4, cols, 4).any(axis=(1, 3))
    return [(ty * tile, min(height, (ty + 1) * tile), tx * tile, min(width, (tx + 1) * tile))
            for ty, tx in zip(*np.nonzero(hit))]


# --- feather -----------------------------------------------------------------------------------------------

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
