"""What the picker's status line says, and whether Apply can go now, from the picker's state alone (no Tk)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import predicted_iou
from .state import Selection

BUSY = "analysing the image…"  # over the canvas until the embedding is here
NOTHING_SELECTED = "nothing selected yet: click on the object first"
SEPARATOR = "   ·   "


@dataclass(frozen=True)
class Status:
    """The picker's state as the status line shows it."""

    model: str
    ready: bool  # the embedding is here
    selection: Selection
    score: float | None = None  # the current step's mask, once decoded
    subject: bool = False  # looking for the main subject
    view: str = "overlay"
    zoom: float = 1.0  # canvas pixels per image pixel
    brush: bool = False
    notice: str = ""
    ticks: int = 0  # polls while analysing: the dots move

    def state(self) -> str:
        if not self.ready:
            return "analysing the image" + "." * (1 + self.ticks // 8 % 3) + " (clicks are kept)"
        if self.subject:
            return "finding the main subject…"
        if self.selection.has_foreground:
            return f"score {predicted_iou(self.score):.2f}" if self.score is not None else "finding the object…"
        return "add a + click or a box" if self.selection.negatives else "click on the object"

    def counts(self) -> str:
        s = self.selection
        counts = f"{len(s.points)} +  {len(s.negatives)} −"
        counts += f"  {len(s.strokes)} brush +" if s.strokes else ""
        counts += f"  {len(s.negative_strokes)} brush −" if s.negative_strokes else ""
        counts += "  box" if s.box is not None else ""
        return counts + ("  inverted" if s.invert else "")

    def text(self) -> str:
        parts = [self.model, self.state(), self.counts(), f"view: {self.view}", f"zoom {self.zoom * 100:.0f}%"]
        parts += ["BRUSH"] if self.brush else []
        return SEPARATOR.join(parts + ([self.notice] if self.notice else []))


def apply_wait(ready: bool, subject: bool, decoding: bool, selected: bool, guide_ready: bool) -> str | None:
    """Why Apply must wait (the notice to show), "" when it cannot apply at all (nothing is selected), or None when
    it can go now. Apply waits for the analysis, the subject search, the current click's mask and the guide."""
    if not ready:
        return "applying as soon as the analysis is done"
    if subject:
        return "applying as soon as the subject is found"
    if decoding:
        return "applying as soon as the mask is here"
    if not selected:
        return ""
    if not guide_ready:
        return "applying as soon as darktable's full-resolution export is here"
    return None
