"""The picker's undoable state: what the user asked for (in file-frame pixels) and the mask answered for it.

Kept free of windows and models so undo / redo / reset / invert can be tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..model import Point, Prompts, Result

Box = tuple[float, float, float, float]
Stroke = tuple[Point, ...]


@dataclass(frozen=True)
class Selection:
    """Clicks, brush strokes, box and invert flag in file-frame pixels; immutable so history entries can share
    them. Strokes stay polylines here (one undo step each); the model resamples them into points."""

    points: tuple[Point, ...] = ()
    negatives: tuple[Point, ...] = ()
    box: Box | None = None
    invert: bool = False
    strokes: tuple[Stroke, ...] = ()
    negative_strokes: tuple[Stroke, ...] = ()

    @classmethod
    def of(cls, prompts: Prompts) -> "Selection":
        return cls(points=tuple(prompts.points), negatives=tuple(prompts.negatives), box=prompts.box,
                   strokes=tuple(tuple(s) for s in prompts.strokes),
                   negative_strokes=tuple(tuple(s) for s in prompts.negative_strokes))

    @property
    def has_foreground(self) -> bool:
        """Negative clicks and strokes alone select nothing: the decoder needs a + click, a + stroke or a box."""
        return bool(self.points or self.strokes) or self.box is not None

    @property
    def empty(self) -> bool:
        return not (self.points or self.negatives or self.strokes or self.negative_strokes or self.box is not None)

    def prompts(self) -> Prompts:
        return Prompts(points=list(self.points), negatives=list(self.negatives), box=self.box,
                       strokes=[list(s) for s in self.strokes],
                       negative_strokes=[list(s) for s in self.negative_strokes])

    def with_click(self, point: Point, positive: bool) -> "Selection":
        if positive:
            return replace(self, points=self.points + (point,))
        return replace(self, negatives=self.negatives + (point,))

    def with_stroke(self, stroke: Stroke, positive: bool) -> "Selection":
        if positive:
            return replace(self, strokes=self.strokes + (tuple(stroke),))
        return replace(self, negative_strokes=self.negative_strokes + (tuple(stroke),))


@dataclass(eq=False)
class Entry:
    """One step of the history. ``result`` is filled in once decoded, so undo and redo restore a mask without
    decoding again. ``refines`` is the step this one refines: its mask (``basis``) is fed back to the decoder as
    ``previous``, read when this step is decoded, so a step made while the one before is still decoding gets it."""

    selection: Selection
    refines: "Entry | None" = None
    result: Result | None = None

    @property
    def basis(self) -> Result | None:
        return self.refines.result if self.refines is not None else None


class History:
    """A linear undo / redo list of selections; a new step after an undo drops the steps that were undone."""

    def __init__(self) -> None:
        self._entries = [Entry(Selection())]
        self._index = 0

    @property
    def current(self) -> Entry:
        return self._entries[self._index]

    @property
    def selection(self) -> Selection:
        return self.current.selection

    def push(self, selection: Selection, keep_result: bool = False) -> Entry:
        """Add a step; ``keep_result`` for steps that do not change the prompts (invert) and reuse the mask."""
        before = self.current
        entry = Entry(selection, refines=before)
        if keep_result:
            entry.refines, entry.result = before.refines, before.result
        del self._entries[self._index + 1:]
        self._entries.append(entry)
        self._index += 1
        return entry

    def click(self, point: Point, positive: bool) -> Entry:
        return self.push(self.selection.with_click(point, positive))

    def stroke(self, stroke: Stroke, positive: bool) -> Entry:
        return self.push(self.selection.with_stroke(stroke, positive))

    def propose(self, selection: Selection) -> Entry:
        """A selection proposed from elsewhere (the Subject button): a step of its own that refines nothing."""
        entry = self.push(selection)
        entry.refines = None
        return entry

    def set_box(self, box: Box) -> Entry:
        return self.push(replace(self.selection, box=box))

    def invert(self) -> Entry:
        return self.push(replace(self.selection, invert=not self.selection.invert), keep_result=True)

    def reset(self) -> Entry:
        """Start over (itself undoable)."""
        return self.push(Selection())

    def undo(self) -> bool:
        if self._index == 0:
            return False
        self._index -= 1
        return True

    def redo(self) -> bool:
        if self._index + 1 >= len(self._entries):
            return False
        self._index += 1
        return True
