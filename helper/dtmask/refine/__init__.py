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
  background's colours nearby; the mask's 0.5 edge never moves, so a hard edge stays where the stages above put it.
- ``feather``: an optional soft edge in pixels.

The stages' work lives in the package's modules: ``edges`` (upsampling and the guided filter), ``parts`` (connected
parts as row runs), ``matting`` (the soft alpha); this module holds the options and runs the stages in order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np

from ..geometry import STRIP_ROWS, bilinear, lowres_shape
from .edges import Grid, guided_edges, upsample_mask
from .matting import matte
from .parts import Point, Runs, joined_to

__all__ = ["Patch", "Point", "Refinement", "STAGES", "WHOLE_FRAME", "agrees", "area_fraction", "clean_components",
           "crop_logits", "feather", "guided_edges", "joined_to", "matte", "refine_mask", "upsample_mask", "zoom_rect"]

MIN_ZOOM_PX = 256  # smallest zoom crop side: below that the model sees mostly upscaled blur


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
    matte_floor: float = 2.0  # standard deviations of the photo's noise an alpha must stand above: hard edges stay hard
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
                options: Refinement = Refinement(), out: np.ndarray | None = None) -> np.ndarray:
    """The full-resolution float32 mask (H, W) from one or more patches, later patches pasted over earlier ones.

    ``pixels`` is the file-frame photo (H, W, C) that guides the edges (None skips the guided stage). ``out`` is
    a zeroed float32 (H, W) array to draw the mask in (a mask file's own pixels, ``imageio.mask_file``);
    by default a new one.
    """
    assert patches, "refine_mask needs at least one patch"
    for n, patch in enumerate(patches):
        x0, y0, x1, y1 = patch.rect
        w, h = patch.size
        guide = pixels[y0:y1, x0:x1] if options.guided and pixels is not None else None
        if n == 0 and (w, h) == (width, height):
            out = _render(patch.logits, w, h, guide, options, out)
            continue
        if out is None:
            out = np.zeros((height, width), np.float32)
        out[y0:y1, x0:x1] = _render(patch.logits, w, h, guide, options)
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
    g = Grid.of(logits.shape[0], width, height)
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
    outer, inner = Grid.of(n, width, height), Grid.of(n, x1 - x0, y1 - y0)
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


def _render(logits: np.ndarray, width: int, height: int, guide: np.ndarray | None,
            options: Refinement, out: np.ndarray | None = None) -> np.ndarray:
    """One patch at full resolution: the exact bilinear mask (in ``out``, zeroed, when given), then its boundary
    band re-decided by the guide."""
    out = upsample_mask(logits, width, height, out=out)
    if guide is not None:
        guided_edges(out, logits, guide, options.radius, options.eps)
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

    runs = Runs.of(inside)
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
