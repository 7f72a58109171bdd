"""All coordinate frames in one place (docs/design.md, "Coordinate frames").

Frames: the file frame F (the TIFF's pixel grid, W x H), the display frame D (F after EXIF orientation N, what
darktable shows), and the model frame M (F scaled so its longest side is 1024, placed top-left on a 1024 x 1024
canvas). Coordinates are pixel indices: x right, y down, origin at the top-left pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]  # (x, y) in pixels of one frame

MODEL_SIZE = 1024
LOWRES_SIZE = 256


@dataclass(frozen=True)
class ResizeLongestSide:
    """The letterbox transform from the file frame to the model frame."""

    width: int
    height: int
    target: int = MODEL_SIZE

    @property
    def scale(self) -> float:
        return self.target / max(self.width, self.height)

    @property
    def resized_size(self) -> tuple[int, int]:
        """(width, height) of the image inside the model frame, rounded like segment-anything does."""
        s = self.scale
        return int(self.width * s + 0.5), int(self.height * s + 0.5)

    def to_model(self, points: np.ndarray) -> np.ndarray:
        """File-frame (x, y) pixel coordinates -> model-frame coordinates, as the SAM decoders expect them."""
        w, h = self.resized_size
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return pts * np.array([w / self.width, h / self.height])

    def from_model(self, points: np.ndarray) -> np.ndarray:
        w, h = self.resized_size
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return pts * np.array([self.width / w, self.height / h])


def relative_to_pixels(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """0..1 fractions of the image size -> pixel coordinates (1.0 is the far edge of the last pixel)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    px = pts * np.array([width, height])
    return np.minimum(px, np.array([width - 1e-6, height - 1e-6]))


# --- the low-resolution grid: the decoder's (n, n) logits over the model frame -------------------------------

def lowres_scales(width: int, height: int, n: int = LOWRES_SIZE) -> tuple[float, float]:
    """Logit cells per file-frame pixel, (x, y), for a W x H image under an (n, n) grid.

    Per axis from the rounded letterbox size (as segment-anything crops and upsamples), so the two may differ
    in the last digits.
    """
    w, h = ResizeLongestSide(width, height).resized_size
    return (w / width) * (n / MODEL_SIZE), (h / height) * (n / MODEL_SIZE)


def lowres_shape(width: int, height: int, n: int = LOWRES_SIZE) -> tuple[int, int]:
    """(rows, cols) of the (n, n) grid's cells that cover the image (the rest is letterbox padding)."""
    w, h = ResizeLongestSide(width, height).resized_size
    return -(-h * n // MODEL_SIZE), -(-w * n // MODEL_SIZE)


def cell_size(width: int, height: int) -> float:
    """File-frame pixels per decoder cell (the same on both axes)."""
    return (MODEL_SIZE / LOWRES_SIZE) / ResizeLongestSide(width, height).scale


# --- resampling: the one bilinear sampler and the one area-average downsampler -------------------------------

def bilinear_weights(pos: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbouring indices i0, i1 and the weight of i1 for fractional index positions (clamped to 0..count-1)."""
    pos = np.clip(pos, 0, count - 1)
    i0 = np.floor(pos).astype(np.intp)
    return i0, np.minimum(i0 + 1, count - 1), (pos - i0).astype(np.float32)


def bilinear_axis(src: int, dst: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights for resampling an axis of ``src`` cells onto ``dst`` pixels.

    ``scale`` is source cells per destination pixel; pixel centres are aligned like
    ``torch.nn.functional.interpolate(align_corners=False)``, which is how segment-anything upsamples.
    """
    return bilinear_weights((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5, src)


def bilinear(values: np.ndarray, pos_y: np.ndarray, pos_x: np.ndarray) -> np.ndarray:
    """Sample ``values`` (h, w[, ...]) at fractional index positions pos_y (rows) x pos_x (columns), separably."""
    for axis, pos in ((0, pos_y), (1, pos_x)):
        i0, i1, f = bilinear_weights(pos, values.shape[axis])
        f = f.reshape((-1,) + (1,) * (values.ndim - 1 - axis))
        v0, v1 = np.take(values, i0, axis=axis), np.take(values, i1, axis=axis)
        values = v0 + (v1 - v0) * f
    return values


def bilinear_points(values: np.ndarray, pos_y: np.ndarray, pos_x: np.ndarray) -> np.ndarray:
    """Sample ``values`` (h, w[, ...]) at n scattered points, fractional index positions pos_y, pos_x: (n[, ...])."""
    h, w = values.shape[:2]
    y0, y1, fy = bilinear_weights(pos_y, h)
    x0, x1, fx = bilinear_weights(pos_x, w)
    flat = values.reshape(h * w, -1)  # flat indices: np.take is several times faster than 2-D fancy indexing
    top, top_right, bottom, bottom_right = (np.take(flat, y * w + x, axis=0) for y, x in
                                            ((y0, x0), (y0, x1), (y1, x0), (y1, x1)))
    fy, fx = fy[:, None], fx[:, None]
    top += (top_right - top) * fx
    bottom += (bottom_right - bottom) * fx
    return (top + (bottom - top) * fy).reshape((-1,) + values.shape[2:])


STRIP_ROWS = 512  # rows per strip when streaming full-resolution data: bounds temporary memory


def to_model_frame(pixels: np.ndarray, white: float, target: int = MODEL_SIZE) -> np.ndarray:
    """Area-average (H, W, C) samples (``white`` is full white) onto their longest-side-``target`` size: float32
    (h, w, 3) on a 0..255 scale, the model frame's image before the letterbox padding."""
    w, h = ResizeLongestSide(pixels.shape[1], pixels.shape[0], target).resized_size
    out = area_resize(pixels, w, h)
    out *= np.float32(255.0 / white)
    np.clip(out, 0.0, 255.0, out=out)
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return out


def area_resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-average (H, W, C) samples of any type down to (height, width, C) float32.

    Integer block averaging runs first in the native sample type, strip by strip, so a 24 MP 16-bit image never
    exists as a float copy; the remaining fractional factor is an exact area average: each output sample is a
    weighted sum of the two or three input samples it overlaps, per axis.
    """
    k = max(1, int(min(pixels.shape[1] / width, pixels.shape[0] / height)))
    out = block_mean(pixels, k) if k > 1 else pixels.astype(np.float32)
    return _area_axis(_area_axis(out, height, axis=0), width, axis=1)


def block_mean(px: np.ndarray, k: int) -> np.ndarray:
    """Mean of k x k blocks of (H, W, C) samples (float32), summed by strided adds (much faster than a
    reshape-sum) in a wide type. The last partial rows and columns (fewer than k) are dropped."""
    hb, wb = px.shape[0] // k, px.shape[1] // k
    acc_type = np.float64 if px.dtype.kind == "f" else np.uint32
    out = np.empty((hb, wb, px.shape[2]), dtype=np.float32)
    rows = max(1, STRIP_ROWS // k)
    for r0 in range(0, hb, rows):
        r1 = min(hb, r0 + rows)
        strip = px[r0 * k:r1 * k, :wb * k]
        cols = strip[0::k].astype(acc_type)
        for i in range(1, k):
            cols += strip[i::k]
        block = cols[:, 0::k].copy()
        for i in range(1, k):
            block += cols[:, i::k]
        np.multiply(block, 1.0 / (k * k), out=out[r0:r1], casting="unsafe")
    return out


def _area_axis(a: np.ndarray, new: int, axis: int) -> np.ndarray:
    """Exact box-filter resample of a float32 array along one axis to ``new`` samples (a shrink).

    Output sample i covers input positions lo[i]..hi[i]; each input sample j it touches adds its overlap
    min(hi, j+1) - max(lo, j), so at most ceil(n / new) + 1 gathered slices do the whole axis.
    """
    n = a.shape[axis]
    if n == new:
        return a
    a = np.moveaxis(a, axis, 0)
    edges = np.arange(new + 1, dtype=np.float64) * (n / new)
    lo, hi = edges[:-1], edges[1:]
    first = np.floor(lo).astype(np.intp)
    out = np.zeros((new,) + a.shape[1:], np.float32)
    shape = (-1,) + (1,) * (a.ndim - 1)
    for step in range(int(np.ceil(n / new)) + 1):
        j = first + step
        weight = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None) / (hi - lo)
        if not weight.any():
            break
        out += a[np.minimum(j, n - 1)] * weight.astype(np.float32).reshape(shape)
    return np.moveaxis(out, 0, axis)


# --- brush strokes ------------------------------------------------------------------------------------------

STROKE_SPACING = 32.0  # model-frame pixels between a stroke's points (two embedding cells)
STROKE_MIN_POINTS = 3
STROKE_MAX_POINTS = 32


def resample_stroke(stroke, spacing: float, min_points: int = STROKE_MIN_POINTS,
                    max_points: int = STROKE_MAX_POINTS) -> np.ndarray:
    """A polyline resampled by arc length into evenly spaced points, both ends included.

    The count is one more than the length in ``spacing`` units, rounded up, kept within min..max points; a
    stroke of zero length (one point, or the same point repeated) becomes that one point.
    """
    pts = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        raise ValueError("a stroke needs at least one point")
    steps = np.hypot(*np.diff(pts, axis=0).T)
    keep = np.concatenate([[True], steps > 0])  # repeated points would make the arc length non-increasing
    pts, steps = pts[keep], steps[steps > 0]
    if len(pts) == 1:
        return pts
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    count = int(np.clip(np.ceil(arc[-1] / spacing) + 1, min_points, max_points))
    at = np.linspace(0.0, arc[-1], count)
    return np.stack([np.interp(at, arc, pts[:, 0]), np.interp(at, arc, pts[:, 1])], axis=1)


def stroke_points(stroke, width: int, height: int) -> np.ndarray:
    """A file-frame stroke as the points a decoder takes: spaced STROKE_SPACING apart in the model frame, so the
    count depends on how much of the picture the stroke covers, not on the photo's resolution."""
    return resample_stroke(stroke, STROKE_SPACING / ResizeLongestSide(width, height).scale)


# --- EXIF orientations: display frame D <-> file frame F ---------------------------------------------------

ORIENTATIONS = range(1, 9)


def _check_orientation(n: int) -> None:
    if n not in ORIENTATIONS:
        raise ValueError(f"EXIF orientation must be 1..8, got {n}")


def display_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """Size of the display frame for a W x H file frame."""
    _check_orientation(orientation)
    return (height, width) if orientation >= 5 else (width, height)


def display_to_file(u: float, v: float, orientation: int, width: int, height: int) -> tuple[float, float]:
    """Map a display-frame pixel (u, v) to the file-frame pixel; W x H is the file frame's size."""
    _check_orientation(orientation)
    w1, h1 = width - 1, height - 1
    return {
        1: (u, v),
        2: (w1 - u, v),
        3: (w1 - u, h1 - v),
        4: (u, h1 - v),
        5: (v, u),
        6: (v, h1 - u),
        7: (w1 - v, h1 - u),
        8: (w1 - v, u),
    }[orientation]


def file_to_display(x: float, y: float, orientation: int, width: int, height: int) -> tuple[float, float]:
    """Inverse of :func:`display_to_file`: the inverse orientation, mapped from the display frame's size."""
    _check_orientation(orientation)
    w, h = display_size(width, height, orientation)
    return display_to_file(x, y, _inverse(orientation), w, h)


def _inverse(orientation: int) -> int:
    """The orientation that undoes ``orientation``: 6 and 8 turn opposite ways, the others undo themselves."""
    return {6: 8, 8: 6}.get(orientation, orientation)


# (transpose, then mirror left-right, then mirror top-bottom) per orientation
_ORIENT_OPS = {
    1: (False, False, False),
    2: (False, True, False),
    3: (False, True, True),
    4: (False, False, True),
    5: (True, False, False),
    6: (True, True, False),
    7: (True, True, True),
    8: (True, False, True),
}


def orient_array(array: np.ndarray, orientation: int) -> np.ndarray:
    """File-frame array (H, W, ...) -> the display-frame view darktable shows for EXIF orientation N."""
    _check_orientation(orientation)
    transpose, flip_x, flip_y = _ORIENT_OPS[orientation]
    a = np.swapaxes(array, 0, 1) if transpose else array
    if flip_x:
        a = a[:, ::-1]
    if flip_y:
        a = a[::-1]
    return a


def unorient_array(array: np.ndarray, orientation: int) -> np.ndarray:
    """Display-frame array -> file frame (inverse of :func:`orient_array`)."""
    return orient_array(array, _inverse(orientation))
