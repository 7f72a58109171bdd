"""One picking session, without any window: clicks in the displayed image -> file-frame prompts -> masks.

The window (and the scripted mode, through the window's handlers) drives this; the geometry of DESIGN.md
section 4 is applied here and only here, through :mod:`dtmask.geometry`.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Generic, TypeVar

import numpy as np

from ..errors import UsageError
from ..geometry import display_size, display_to_file
from ..imageio import Image
from ..model import Embedding, Model, Point, Result
from ..refine import Refinement
from .state import Entry, History

# per click, one decoder run: the zoom stage would encode a crop (about a second) whenever the object moves
LIVE = Refinement(zoom=False)

T = TypeVar("T")


class Background(Generic[T]):
    """Run a function in a daemon thread (so closing the window never waits for it) and hand its result over."""

    def __init__(self, fn: Callable[[], T]):
        self._value: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        threading.Thread(target=self._run, args=(fn,), daemon=True).start()

    def _run(self, fn: Callable[[], T]) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # handed to the main thread, which reports it
            self._error = exc
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def result(self) -> T:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class PickSession:
    """The model, the image as darktable displays it (EXIF orientation N), the history, and timings.

    Encoding starts in the background as soon as the session exists, so the window can open at once.
    """

    def __init__(self, model: Model, image: Image, orientation: int = 1):
        self.model = model
        self.image = image
        self.orientation = orientation
        self.display_width, self.display_height = display_size(image.width, image.height, orientation)
        self.history = History()
        self.embedding: Embedding | None = None
        self.encode_seconds = 0.0
        self.decode_seconds: list[float] = []
        self._started = time.perf_counter()
        self._encoding = Background(lambda: model.encode(image))

    # --- the embedding ------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once the embedding is here; picks up the background encoder's result (or its error)."""
        if self.embedding is None and self._encoding.done:
            self.embedding = self._encoding.result()
            self.encode_seconds = time.perf_counter() - self._started
        return self.embedding is not None

    # --- prompts, in displayed-image pixels ---------------------------------------------------------------

    def to_file(self, u: float, v: float) -> Point:
        """Map a displayed-image pixel to the file frame; points off the displayed image are a usage error."""
        if not (0 <= u <= self.display_width - 1 and 0 <= v <= self.display_height - 1):
            raise UsageError(f"point {u:g},{v:g} is outside the displayed {self.display_width}x"
                             f"{self.display_height} image")
        x, y = display_to_file(u, v, self.orientation, self.image.width, self.image.height)
        return float(x), float(y)

    def click(self, u: float, v: float, positive: bool) -> Entry:
        return self.history.click(self.to_file(u, v), positive)

    def box(self, u0: float, v0: float, u1: float, v1: float) -> Entry:
        """A box dragged between two displayed corners; stored as (x0, y0, x1, y1) with x0 < x1, y0 < y1."""
        (xa, ya), (xb, yb) = self.to_file(u0, v0), self.to_file(u1, v1)
        return self.history.set_box((min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)))

    # --- masks --------------------------------------------------------------------------------------------

    @property
    def result(self) -> Result | None:
        """The live mask for the current step, decoding it first when the embedding is ready and it has none yet."""
        entry = self.history.current
        if entry.result is None and entry.selection.has_foreground and self.ready:
            entry.result = self.model.decode(self.embedding, entry.selection.prompts(), previous=entry.basis,
                                             refine=LIVE)
            self.decode_seconds.append(entry.result.seconds)
        return entry.result if entry.selection.has_foreground else None

    def finish(self, feather_px: float = 0.0) -> tuple[Result, np.ndarray]:
        """Apply: decode the current step with every refinement stage (as ``dtmask segment`` does) and make the
        full-resolution file-frame mask, once."""
        entry = self.history.current
        if self.result is None:
            raise UsageError("nothing is selected: click on the object (or drag a box) before applying")
        result = self.model.decode(self.embedding, entry.selection.prompts(), previous=entry.basis)
        return result, result.mask(invert=entry.selection.invert, feather_px=feather_px)
