"""Zoom and pan: which part of the displayed image the canvas shows, and where a canvas pixel points.

Continuous coordinates: displayed pixel i spans [i, i + 1), so pixel-index coordinates (what prompts use) are
continuous ones minus 0.5. Canvas pixel (cx, cy) sees the continuous point (left + (cx + 0.5) / scale,
top + (cy + 0.5) / scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SCALE = 16.0  # canvas pixels per image pixel at the deepest zoom: enough to click single pixels


@dataclass
class Viewport:
    canvas_width: int
    canvas_height: int
    image_width: int
    image_height: int
    scale: float = 1.0
    left: float = 0.0
    top: float = 0.0

    @property
    def fit_scale(self) -> float:
        return min(self.canvas_width / self.image_width, self.canvas_height / self.image_height)

    def fit(self) -> None:
        """Show the whole image, centred."""
        self.scale = self.fit_scale
        self._centre_or_clamp()

    def resize(self, width: int, height: int, keep_zoom: bool) -> None:
        self.canvas_width, self.canvas_height = max(1, width), max(1, height)
        if keep_zoom:
            self._centre_or_clamp()
        else:
            self.fit()

    def to_image(self, cx: float, cy: float) -> tuple[float, float]:
        """Canvas pixel -> displayed-image pixel-index coordinates."""
        return self.left + (cx + 0.5) / self.scale - 0.5, self.top + (cy + 0.5) / self.scale - 0.5

    def to_canvas(self, u: float, v: float) -> tuple[float, float]:
        """Displayed-image pixel-index coordinates -> canvas pixel (inverse of :meth:`to_image`)."""
        return (u + 0.5 - self.left) * self.scale - 0.5, (v + 0.5 - self.top) * self.scale - 0.5

    def contains(self, u: float, v: float) -> bool:
        return -0.5 <= u < self.image_width - 0.5 and -0.5 <= v < self.image_height - 0.5

    def zoom_at(self, cx: float, cy: float, factor: float) -> None:
        """Zoom by ``factor`` keeping the image point under canvas pixel (cx, cy) where it is."""
        u, v = self.to_image(cx, cy)
        self.scale = float(np.clip(self.scale * factor, self.fit_scale, max(self.fit_scale, MAX_SCALE)))
        self.left = u + 0.5 - (cx + 0.5) / self.scale
        self.top = v + 0.5 - (cy + 0.5) / self.scale
        self._centre_or_clamp()

    def pan(self, dx: float, dy: float) -> None:
        """Move the image by (dx, dy) canvas pixels, as when dragging it."""
        self.left -= dx / self.scale
        self.top -= dy / self.scale
        self._centre_or_clamp()

    def _centre_or_clamp(self) -> None:
        """Centre an axis the canvas shows whole; otherwise keep the canvas inside the image on it."""
        for size, extent, attr in ((self.image_width, self.canvas_width / self.scale, "left"),
                                   (self.image_height, self.canvas_height / self.scale, "top")):
            if extent >= size:  # centred on a whole canvas pixel, so 1:1 pixels stay crisp
                setattr(self, attr, -round((extent - size) * self.scale / 2) / self.scale)
            else:
                setattr(self, attr, float(np.clip(getattr(self, attr), 0.0, size - extent)))

    def visible(self) -> tuple[int, int, np.ndarray, np.ndarray]:
        """The canvas pixels that show the image: (first column, first row, and the continuous image x of each
        such column and y of each such row)."""
        def axis(count: int, origin: float, size: int) -> tuple[int, np.ndarray]:
            pos = origin + (np.arange(count) + 0.5) / self.scale
            inside = np.nonzero((pos >= 0) & (pos < size))[0]
            if inside.size == 0:
                return 0, pos[:0]
            return int(inside[0]), pos[inside[0]:inside[-1] + 1]

        c0, xs = axis(self.canvas_width, self.left, self.image_width)
        r0, ys = axis(self.canvas_height, self.top, self.image_height)
        return c0, r0, xs, ys
