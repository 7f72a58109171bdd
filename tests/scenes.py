"""Generated photo-like test scenes with exactly known object masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) in the requested dtype
    masks: dict[str, np.ndarray]  # name -> bool (H, W)
    centres: dict[str, tuple[float, float]]  # name -> (x, y) a point well inside the object


def _texture(rng: np.random.Generator, h: int, w: int, base, amp: float) -> np.ndarray:
    """Smooth colour noise, like out-of-focus foliage or fabric: coarse noise upsampled plus fine grain."""
    coarse = rng.normal(0, 1, (max(2, h // 40), max(2, w // 40), 3))
    ys = np.linspace(0, coarse.shape[0] - 1, h)
    xs = np.linspace(0, coarse.shape[1] - 1, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    smooth = coarse[np.minimum(y0, coarse.shape[0] - 1)][:, np.minimum(x0, coarse.shape[1] - 1)]
    grain = rng.normal(0, 0.3, (h, w, 3))
    return np.asarray(base, float) + amp * (0.7 * smooth + grain)


def two_objects(width: int = 900, height: int = 600, dtype=np.uint8, seed: int = 0) -> Scene:
    """A textured green-grey background with a red disc (left) and a blue rounded box (right)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    s = min(width, height)
    img = _texture(rng, height, width, (95, 120, 85), 10) + (xx / width * 30)[..., None]
    disc_c = (0.28 * width, 0.5 * height)
    disc = np.hypot(xx - disc_c[0], yy - disc_c[1]) < 0.2 * s
    box_c = (0.72 * width, 0.5 * height)
    bw, bh, r = 0.14 * width, 0.27 * height, 0.05 * s
    dx = np.maximum(np.abs(xx - box_c[0]) - (bw - r), 0)
    dy = np.maximum(np.abs(yy - box_c[1]) - (bh - r), 0)
    box = np.hypot(dx, dy) < r
    img[disc] = _texture(rng, height, width, (210, 50, 40), 12)[disc]
    img[box] = _texture(rng, height, width, (40, 70, 200), 12)[box]
    img = np.clip(img, 0, 255) / 255.0
    return Scene(image=_as_dtype(img, dtype), masks={"disc": disc, "box": box},
                 centres={"disc": disc_c, "box": box_c})


def _as_dtype(unit: np.ndarray, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return unit.astype(dtype)
    return np.round(unit * np.iinfo(dtype).max).astype(dtype)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a) > 0.5, np.asarray(b) > 0.5
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0
