"""Mouse gestures without Tk: presses, drags and releases in canvas pixels -> what the user meant.

A left press becomes a click, or a box once it has moved ``DRAG_PX``; in brush mode (or with Alt) a press draws a
stroke; Space-drag and the middle button pan; the right button and Shift make a prompt negative. The window turns
Tk events into these calls, then draws or runs what comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from ..geometry import Point
from .viewport import Viewport

DRAG_PX = 4  # how far a left press must move to draw a box instead of clicking
STROKE_PX = 2  # a brush stroke takes a point each time the pointer moved this many canvas pixels


@dataclass(frozen=True)
class Click:
    """A + or - click at a displayed-image pixel."""

    u: float
    v: float
    positive: bool


@dataclass(frozen=True)
class Box:
    """A box between two displayed-image corners."""

    u0: float
    v0: float
    u1: float
    v1: float


@dataclass(frozen=True)
class Stroke:
    """A finished brush stroke through displayed-image pixels."""

    points: tuple[Point, ...]
    positive: bool


@dataclass(frozen=True)
class Pan:
    """Move the view by (dx, dy) canvas pixels."""

    dx: float
    dy: float


@dataclass(frozen=True)
class Rubber:
    """The box being dragged, (x0, y0, x1, y1) in canvas pixels: draw it as a rubber band."""

    rect: tuple[float, float, float, float]


@dataclass(frozen=True)
class Drawing:
    """The stroke being drawn, as flat canvas coordinates (x0, y0, x1, y1, ...): draw it."""

    flat: tuple[float, ...]
    positive: bool


Gesture = Optional[Union[Click, Box, Stroke, Pan, Rubber, Drawing]]


class Gestures:
    """The press / drag / release state machine of one canvas showing a width x height displayed image."""

    def __init__(self, viewport: Viewport, width: int, height: int):
        self.viewport = viewport
        self.width, self.height = width, height
        self.mode: str | None = None  # while a button is held: click, box, pan, stroke+ or stroke-
        self._start: Point = (0.0, 0.0)  # the press (click, box) or the last pan point, canvas pixels
        self._stroke: list[Point] = []  # displayed-image pixels
        self._flat: list[float] = []  # the same points on the canvas

    def to_image(self, cx: float, cy: float) -> Point | None:
        """The displayed-image pixel under a canvas pixel (clamped to the image), None off the image."""
        u, v = self.viewport.to_image(cx, cy)
        if not self.viewport.contains(u, v):
            return None
        return self._clamp(u, v)

    def press(self, cx: float, cy: float, button: str, shift: bool = False, alt: bool = False,
              space: bool = False, brush: bool = False) -> Gesture:
        """A button went down: ``button`` is "left", "right" or "middle"."""
        self.mode = None
        if button == "middle" or (button == "left" and space):
            self.mode, self._start = "pan", (cx, cy)
            return None
        if brush or alt:
            return self._start_stroke(cx, cy, positive=button == "left" and not shift)
        if button == "right":
            point = self.to_image(cx, cy)
            return Click(*point, positive=False) if point is not None else None
        self.mode, self._start = "click", (cx, cy)
        return None

    def drag(self, cx: float, cy: float) -> Gesture:
        """The pointer moved with the button held."""
        if self.mode == "pan":
            (x, y), self._start = self._start, (cx, cy)
            return Pan(cx - x, cy - y)
        if self.mode in ("stroke+", "stroke-"):
            return self._extend(cx, cy)
        x0, y0 = self._start
        if self.mode == "click" and max(abs(cx - x0), abs(cy - y0)) >= DRAG_PX:
            self.mode = "box"
        return Rubber((x0, y0, cx, cy)) if self.mode == "box" else None

    def release(self, cx: float, cy: float, shift: bool = False) -> Gesture:
        """The button came up: the click, box or stroke it made (None for a pan or a press off the image)."""
        mode, self.mode = self.mode, None
        (x0, y0) = self._start
        if mode in ("stroke+", "stroke-"):
            self._extend(cx, cy)
            return Stroke(tuple(self._stroke), positive=mode == "stroke+")
        if mode == "click":
            point = self.to_image(x0, y0)
            return Click(*point, positive=not shift) if point is not None else None
        if mode == "box":
            return self._box(x0, y0, cx, cy)
        return None

    def _start_stroke(self, cx: float, cy: float, positive: bool) -> Gesture:
        """A brush press: strokes start on the image (and are clamped to it while drawn)."""
        if self.to_image(cx, cy) is None:
            return None
        self.mode = "stroke+" if positive else "stroke-"
        self._stroke, self._flat = [], []
        return self._extend(cx, cy)

    def _extend(self, cx: float, cy: float) -> Gesture:
        last = self._flat[-2:]
        if last and max(abs(cx - last[0]), abs(cy - last[1])) < STROKE_PX:
            return None
        self._stroke.append(self._clamp(*self.viewport.to_image(cx, cy)))
        self._flat += [cx, cy]
        return Drawing(tuple(self._flat), positive=self.mode == "stroke+")

    def _box(self, cx0: float, cy0: float, cx1: float, cy1: float) -> Gesture:
        """A dragged box, clamped to the image; one smaller than a pixel (deep zoom) counts as a + click."""
        (u0, v0), (u1, v1) = (self._clamp(*self.viewport.to_image(x, y)) for x, y in ((cx0, cy0), (cx1, cy1)))
        if abs(u1 - u0) < 1 or abs(v1 - v0) < 1:
            point = self.to_image(cx0, cy0)
            return Click(*point, positive=True) if point is not None else None
        return Box(u0, v0, u1, v1)

    def _clamp(self, u: float, v: float) -> Point:
        return min(max(u, 0.0), self.width - 1.0), min(max(v, 0.0), self.height - 1.0)
