"""All coordinate frames in one place (docs/design.md, "Coordinate frames").

Frames: the file frame F (the TIFF's pixel grid, W x H), the display frame D (F after EXIF orientation N, what
darktable shows), and the model frame M (F scaled so its longest side is 1024, placed top-left on a 1024 x 1024
canvas). Coordinates are pixel indices: x right, y down, origin at the top-left pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def area_resize_axis(count: int, new_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Boundaries for area-averaging ``count`` samples into ``new_count`` (used with cumulative sums)."""
    edges = np.arange(new_count + 1, dtype=np.float64) * (count / new_count)
    return edges[:-1], edges[1:]


def bilinear_axis(src: int, dst: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights for resampling an axis of ``src`` cells onto ``dst`` pixels.

    ``scale`` is source cells per destination pixel; pixel centres are aligned like
    ``torch.nn.functional.interpolate(align_corners=False)``, which is how segment-anything upsamples.
    """
    pos = (np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5
    pos = np.clip(pos, 0, src - 1)
    i0 = np.floor(pos).astype(np.intp)
    i1 = np.minimum(i0 + 1, src - 1)
    return i0, i1, (pos - i0).astype(np.float32)


def lowres_scale(width: int, height: int, lowres: int = LOWRES_SIZE) -> float:
    """Low-resolution logit cells per file-frame pixel (the same on both axes: the letterbox keeps aspect)."""
    return ResizeLongestSide(width, height).scale * lowres / MODEL_SIZE


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
    """Inverse of :func:`display_to_file`."""
    _check_orientation(orientation)
    w1, h1 = width - 1, height - 1
    return {
        1: (x, y),
        2: (w1 - x, y),
        3: (w1 - x, h1 - y),
        4: (x, h1 - y),
        5: (y, x),
        6: (h1 - y, x),
        7: (h1 - y, w1 - x),
        8: (y, w1 - x),
    }[orientation]


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
    inverse = {6: 8, 8: 6}.get(orientation, orientation)
    return orient_array(array, inverse)
