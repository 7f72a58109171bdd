"""Pixels for the canvas: the displayed image under the viewport and the mask drawn over it, in numpy.

Only the visible canvas pixels are ever computed, so a click on a 24 MP image costs the same as on a small one.
"""

from __future__ import annotations

import numpy as np

from ..geometry import bilinear, display_to_file, lowres_scales, orient_array, to_model_frame
from ..imageio import Image

VIEWS = ("overlay", "mask", "outline", "original")
TINT = np.array([0, 200, 255], np.float32)  # cyan: stands out on skin, foliage and sky alike
TINT_ALPHA = 0.45
OUTLINE = np.array([0, 255, 255], np.uint8)
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
    inside = bilinear(logits, (ys + 0.5) * sy - 0.5, (xs + 0.5) * sx - 0.5) > 0  # pixel centres aligned
    return inside.T if orientation >= 5 else inside


def outline(inside: np.ndarray) -> np.ndarray:
    """The mask's boundary pixels: inside, with a 4-neighbour outside."""
    core = inside.copy()
    core[1:] &= inside[:-1]
    core[:-1] &= inside[1:]
    core[:, 1:] &= inside[:, :-1]
    core[:, :-1] &= inside[:, 1:]
    return inside & ~core


class Backdrop:
    """The visible part of the image, with its tinted copy made once per view change: a new mask then only
    costs a per-pixel select (about 10 ms for a full-screen canvas instead of 60)."""

    def __init__(self, base: np.ndarray):
        self.base = base
        self.tinted = (base * (1 - TINT_ALPHA) + TINT * TINT_ALPHA).astype(np.uint8)

    def compose(self, inside: np.ndarray | None, view: str) -> np.ndarray:
        """The canvas picture for a view: overlay (tint + outline), mask (white on black), outline, original."""
        if view == "mask":
            white = inside if inside is not None else np.zeros(self.base.shape[:2], bool)
            return np.repeat((white * np.uint8(255))[:, :, None], 3, axis=2)
        if view == "original" or inside is None:
            return self.base
        out = np.where(inside[:, :, None], self.tinted, self.base) if view == "overlay" else self.base.copy()
        out[outline(inside)] = OUTLINE
        return out


def ppm(rgb: np.ndarray) -> bytes:
    """Binary PPM, which Tk's photo image reads directly (no Pillow needed)."""
    h, w = rgb.shape[:2]
    return b"P6 %d %d 255\n" % (w, h) + np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
