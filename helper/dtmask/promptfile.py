"""Saved prompts: the clicks a mask was made from, kept next to it so the mask can be edited later.

The file is JSON in the frame of the mask file (for the darktable bridge: the raster frame at full resolution):

    {"width": W, "height": H, "orientation": N, "prompts": {"points": [[x, y], ...], "negatives": [...],
     "box": [x0, y0, x1, y1] or null, "strokes": [[[x, y], ...], ...], "negative_strokes": [...]}}

``orientation`` is the EXIF orientation the picker showed the mask's frame in (1 when absent). The ``--json``
output of ``dtmask pick`` and ``dtmask segment`` has the same fields, so it can be read back as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .geometry import display_size, file_to_display
from .imageio import atomic_write
from .model import Prompts


@dataclass(frozen=True)
class SavedPrompts:
    prompts: Prompts  # pixels of a width x height frame
    width: int
    height: int
    orientation: int = 1

    def in_frame(self, width: int, height: int, orientation: int = 1) -> Prompts:
        """The prompts on a picture of `width` x `height` that shows the saved frame turned by `orientation`
        (and scaled: a small preview of it, say)."""
        dw, dh = display_size(self.width, self.height, orientation)
        sx, sy = width / dw, height / dh

        def move(x: float, y: float) -> tuple[float, float]:
            u, v = file_to_display(x, y, orientation, self.width, self.height)
            return u * sx, v * sy

        return self.prompts.mapped(move)

    def as_json(self) -> dict:
        return {"width": self.width, "height": self.height, "orientation": self.orientation,
                "prompts": self.prompts.as_json()}


def merged(saved: Prompts, more: Prompts) -> Prompts:
    """Saved prompts with more given on top (clicks and strokes added; a new box replaces the saved one)."""
    return Prompts(points=saved.points + more.points, negatives=saved.negatives + more.negatives,
                   box=more.box if more.box is not None else saved.box, strokes=saved.strokes + more.strokes,
                   negative_strokes=saved.negative_strokes + more.negative_strokes)


def _points(value: object, what: str) -> list[tuple[float, float]]:
    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
        raise ValueError(f"{what} must be a list of [x, y]")
    return [(float(x), float(y)) for x, y in value]


def parse(data: object) -> SavedPrompts:
    """Check and read the JSON object; raises ValueError naming what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("prompts"), dict):
        raise ValueError("it must be a JSON object with width, height and prompts")
    p = data["prompts"]
    box = p.get("box")
    if box is not None and (not isinstance(box, list) or len(box) != 4):
        raise ValueError("box must be [x0, y0, x1, y1] or null")
    prompts = Prompts(points=_points(p.get("points", []), "points"),
                      negatives=_points(p.get("negatives", []), "negatives"),
                      box=tuple(float(v) for v in box) if box is not None else None,
                      strokes=[_points(s, "a stroke") for s in p.get("strokes", [])],
                      negative_strokes=[_points(s, "a stroke") for s in p.get("negative_strokes", [])])
    width, height, n = int(data["width"]), int(data["height"]), int(data.get("orientation", 1))
    if width < 1 or height < 1 or not 1 <= n <= 8:
        raise ValueError("width and height must be positive and orientation 1-8")
    return SavedPrompts(prompts, width, height, n)


def load(path: str | Path) -> SavedPrompts:
    """Read a saved prompts file; any problem is a usage error naming the file."""
    try:
        return parse(json.loads(Path(path).read_text(encoding="utf-8")))
    except OSError as exc:
        raise UsageError(f"cannot read the prompts file {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"the prompts file {path} is not a dtmask prompts file: {exc}") from None


def save(path: str | Path, saved: SavedPrompts) -> None:
    """Write the file atomically (a reader never sees half of it)."""
    with atomic_write(path) as f:
        f.write(json.dumps(saved.as_json()).encode("utf-8"))
