"""Pixels for the canvas: the displayed image under the viewport and the mask drawn over it, in numpy.

Only the visible canvas pixels are ever computed, so a click on a 24 MP image costs the same as on a small one.
"""

from __future__ import annotations

import numpy as np

from ..geometry import bilinear, bilinear_weights, display_to_file, lowres_scales, orient_array, to_model_frame
from ..imageio import Image

VIEWS = ("overlay", "mask", "outline", "original")
TINT = np.array([0, 200, 255], np.float32)  # cyan: stands out on skin, foliage and sky alike
TINT_ALPHA = 0.45
OUTLINE = np.array([0, 255, 255], np.uint8)
HOVER = np.array([255, 212, 0], np.uint8)  # the outline of what a click would select
PREVIEW_LONG_SIDE = 1600  # the zoomed-out views sample this area-averaged copy instead of the full image


def to_rgb8(pixels: np.ndarray, white: float) -> np.ndarray:
    """(h, w, 1 or 3) samples of any supported type -> (h, w, 3) uint8 for the screen."""
    if pixels.dtype == np.uint8:
        rgb = pixels
    elif pixels.dtype == np.uint16:
        rgb = (pixels >> 8).astype(np.uint8)
    else:
        rgb = (np.clip(pixels, 0.0, white) * (255.0 / white) + 0.5).astype(np.uint8)
    return np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb


def make_preview(image: Image, orientation: int) -> np.ndarray | None:
    """An area-averaged, display-oriented uint8 copy for zoomed-out views (None for small images).

    Nearest-neighbour sampling of a 24 MP photo at a fifth of its size shimmers on fine texture; this is slow
    (about a second), so the window computes it in the background.
    """
    if max(image.width, image.height) <= PREVIEW_LONG_SIDE:
        return None
    small = to_model_frame(image.pixels, image.white, PREVIEW_LONG_SIDE)  # float32 0..255
    return orient_array((small + 0.5).astype(np.uint8), orientation)


class ImageSource:
    """The displayed image: the full-resolution pixels as an oriented view (no copy) plus the optional preview."""

    def __init__(self, image: Image, orientation: int):
        self.full = orient_array(image.pixels, orientation)
        self.white = image.white
        self.preview: np.ndarray | None = None

    def sample(self, xs: np.ndarray, ys: np.ndarray, scale: float) -> np.ndarray:
        """uint8 RGB at the continuous image points xs (columns) and ys (rows); ``scale`` is canvas px per image
        px, which picks the preview when it has at least one pixel per canvas pixel."""
        ratio = 1.0
        source, white = self.full, self.white
        if self.preview is not None:
            preview_ratio = self.preview.shape[1] / self.full.shape[1]
            if scale <= preview_ratio:
                ratio, source, white = preview_ratio, self.preview, 255.0
        iy = np.minimum((ys * ratio).astype(np.intp), source.shape[0] - 1)
        ix = np.minimum((xs * ratio).astype(np.intp), source.shape[1] - 1)
        return to_rgb8(source[iy[:, None], ix[None, :]], white)


def mask_on_canvas(logits: np.ndarray, xs: np.ndarray, ys: np.ndarray, orientation: int,
                   width: int, height: int) -> np.ndarray:
    """Which canvas pixels the decoder's low-res logits put on the object: bool (len(ys), len(xs)).

    xs / ys are continuous displayed-image points (as :meth:`Viewport.visible` gives them); W x H is the file
    frame. The logits are interpolated exactly as :func:`dtmask.refine.upsample_mask` does (bilinear,
    align_corners=False, same scale): the overlay is the model's own mask at any zoom, and Apply adds the
    edge refinement on top.
    """
    cols, rows = xs - 0.5, ys - 0.5  # pixel-index coordinates
    col_x, col_y = display_to_file(cols, np.zeros_like(cols), orientation, width, height)
    row_x, row_y = display_to_file(np.zeros_like(rows), rows, orientation, width, height)
    sx, sy = lowres_scales(width, height, logits.shape[0])
    if orientation >= 5:  # EXIF 5..8 swap the axes (geometry.display_size): columns run along the file's y
        ys, xs = np.asarray(col_y), np.asarray(row_x)
    else:
        ys, xs = np.asarray(row_y), np.asarray(col_x)
    pos_y, pos_x = (ys + 0.5) * sy - 0.5, (xs + 0.5) * sx - 0.5  # pixel centres aligned
    positive = logits > 0  # a bilinear sample is positive only next to a positive cell: sample just there
    rows, cols = _near(positive.any(axis=1), pos_y), _near(positive.any(axis=0), pos_x)
    inside = np.zeros((pos_y.size, pos_x.size), bool)
    if rows is not None and cols is not None:
        inside[rows, cols] = bilinear(logits, pos_y[rows], pos_x[cols]) > 0
    return inside.T if orientation >= 5 else inside


def _near(cells: np.ndarray, pos: np.ndarray) -> slice | None:
    """The run of sample positions with a True cell among their two neighbours, None when none has."""
    i0, i1, _ = bilinear_weights(pos, cells.size)
    near = np.flatnonzero(cells[i0] | cells[i1])
    return slice(int(near[0]), int(near[-1]) + 1) if near.size else None


def outline(inside: np.ndarray) -> np.ndarray:
    """The mask's boundary pixels: inside, with a 4-neighbour outside."""
    core = inside.copy()
    core[1:] &= inside[:-1]
    core[:-1] &= inside[1:]
    core[:, 1:] &= inside[:, :-1]
    core[:, :-1] &= inside[:, 1:]
    return inside & ~core


class Backdrop:
    """The visible part of the image with its tinted copy (made once per view change), and the picture last drawn
    from them: a new mask recomposes only the pixels it changes (:meth:`update`)."""

    def __init__(self, base: np.ndarray):
        self.base = base
        self.tinted = (base * (1 - TINT_ALPHA) + TINT * TINT_ALPHA).astype(np.uint8)
        self.picture = base
        self._drawn: tuple[np.ndarray | None, np.ndarray | None, str] | None = None  # inside, hover, view

    def compose(self, inside: np.ndarray | None, view: str, hover: np.ndarray | None = None) -> np.ndarray:
        """The canvas picture for a view: overlay (tint + outline), mask (white on black), outline, original;
        ``hover`` (what a click would select) outlined in yellow over it."""
        return self._compose(inside, view, hover, None)

    def update(self, inside: np.ndarray | None, view: str,
               hover: np.ndarray | None = None) -> tuple[int, int, int, int] | None:
        """Make :attr:`picture` what :meth:`compose` gives for these masks, recomposing only around the pixels whose
        masks changed since the last update; returns that region (row0, row1, col0, col1), None if nothing did."""
        h, w = self.base.shape[:2]
        region: tuple[int, int, int, int] | None = (0, h, 0, w)
        if self._drawn is not None and self._drawn[2] == view:
            changed = _changed(inside, self._drawn[0], (h, w)) | _changed(hover, self._drawn[1], (h, w))
            region = _grown(_bbox(changed), REACH, h, w)
        self._drawn = (inside, hover, view)
        if region is None:
            return None
        y0, y1, x0, x1 = region
        if region == (0, h, 0, w):
            self.picture = self.compose(inside, view, hover)
            return region
        if self.picture is self.base:
            self.picture = self.base.copy()
        oy0, oy1, ox0, ox1 = _grown(region, REACH, h, w)  # the pixels the region's pixels depend on
        part = self._compose(inside, view, hover, (slice(oy0, oy1), slice(ox0, ox1)))
        self.picture[y0:y1, x0:x1] = part[y0 - oy0:y1 - oy0, x0 - ox0:x1 - ox0]
        return region

    def _compose(self, inside: np.ndarray | None, view: str, hover: np.ndarray | None,
                 part: tuple[slice, slice] | None) -> np.ndarray:
        """:meth:`compose` on a part of the canvas, None: all of it (a part's edge pixels see no neighbours beyond
        it)."""
        def cut(a: np.ndarray) -> np.ndarray:
            return a if part is None else a[part]

        base = cut(self.base)
        inside = cut(inside) if inside is not None else None
        if view == "mask":
            white = inside if inside is not None else np.zeros(base.shape[:2], bool)
            out = np.repeat((white * np.uint8(255))[:, :, None], 3, axis=2)
        elif view == "original" or inside is None:
            out = base
        else:
            out = _select(inside, cut(self.tinted), base) if view == "overlay" else base.copy()
            out[outline(inside)] = OUTLINE
        if hover is not None:
            edge = outline(cut(hover))
            edge[1:] |= edge[:-1].copy()  # two pixels wide: visible on any picture
            edge[:, 1:] |= edge[:, :-1].copy()
            out = out.copy() if out is base else out
            out[edge] = HOVER
        return out


REACH = 2  # a pixel's colour depends on the masks up to this many pixels away (the outlines; the hover's is 2 wide)


def _select(mask: np.ndarray, yes: np.ndarray, no: np.ndarray) -> np.ndarray:
    """np.where for (h, w, 3) uint8 pictures by an (h, w) mask, choosing whole pixels (3-byte items: 2-3x faster
    than broadcasting the mask over the channels)."""
    def pixels(rgb: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(rgb).view("V3")[:, :, 0]

    return np.where(mask, pixels(yes), pixels(no)).view(np.uint8).reshape(*mask.shape, 3)


def _changed(now: np.ndarray | None, before: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    if now is None and before is None:
        return np.zeros(shape, bool)
    if now is None or before is None:
        return now if now is not None else before
    return now ^ before


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The smallest (row0, row1, col0, col1) holding every True pixel, None when there is none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _grown(region: tuple[int, int, int, int] | None, by: int, h: int, w: int) -> tuple[int, int, int, int] | None:
    if region is None:
        return None
    y0, y1, x0, x1 = region
    return max(0, y0 - by), min(h, y1 + by), max(0, x0 - by), min(w, x1 + by)


def ppm(rgb: np.ndarray) -> bytes:
    """Binary PPM, which Tk's photo image reads directly (no Pillow needed)."""
    h, w = rgb.shape[:2]
    return b"P6 %d %d 255\n" % (w, h) + np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
