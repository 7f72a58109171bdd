"""One picking session, without any window: clicks in the displayed image -> file-frame prompts -> masks.

The window (and the scripted mode, through the window's handlers) drives this; the display -> file frame
mapping (docs/design.md, "Coordinate frames") is applied here and only here, through :mod:`dtmask.geometry`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable, Generic, Sequence, TypeVar

import numpy as np

from ..errors import UsageError
from ..geometry import display_size, display_to_file
from ..imageio import Image
from ..model import Embedding, Model, Point, Prompts, Result
from ..refine import Refinement
from ..subject import find_subject
from .guide import Guide
from .state import Entry, History, Selection

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

    @property
    def failed(self) -> bool:
        """Done, with an error."""
        return self._done.is_set() and self._error is not None

    def wait(self, timeout: float | None = None) -> None:
        """Let the work end (at most `timeout` seconds; None: however long it takes): a process that exits with a
        thread still inside onnxruntime or numpy can abort instead of exiting."""
        self._done.wait(timeout)

    def result(self) -> T:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class Hover:
    """What a + click at the pointer would select on its own, decoded off the Tk thread.

    At most one decode runs at a time; the latest asked point wins (earlier ones not yet started are dropped); a
    point is decoded only once the pointer has rested ``rest`` seconds on it, so sweeping across the picture costs
    nothing. The owner picks finished answers up with :meth:`take`; :meth:`drop` and :meth:`settle` let a click
    go first: a pending point never starts, and a running decode is waited for (it is at most one decode).
    """

    def __init__(self, decode: Callable[[Point], Result], rest: float):
        self._decode = decode
        self._rest = rest
        self._cond = threading.Condition()
        self._wanted: tuple[Point, float] | None = None  # point and when it was asked
        self._running: Point | None = None
        self._fresh: tuple[Point, Result] | None = None  # finished, not taken yet
        self.last: tuple[Point, Result] | None = None  # the latest finished answer
        self.seconds: list[float] = []
        self._closed = False
        threading.Thread(target=self._loop, daemon=True).start()

    def want(self, point: Point) -> None:
        with self._cond:
            self._wanted = (point, time.monotonic())
            self._cond.notify_all()

    def drop(self) -> None:
        """Forget the point not started yet."""
        with self._cond:
            self._wanted = None

    @property
    def pending(self) -> bool:
        """A point is asked for or decoding, or an answer waits to be taken."""
        with self._cond:
            return self._wanted is not None or self._running is not None or self._fresh is not None

    @property
    def running(self) -> bool:
        """A hover decode is running now."""
        with self._cond:
            return self._running is not None

    def settle(self, timeout: float = 10.0) -> None:
        """Wait for the running decode (if any) to finish."""
        with self._cond:
            self._cond.wait_for(lambda: self._running is None, timeout)

    def take(self) -> tuple[Point, Result] | None:
        with self._cond:
            fresh, self._fresh = self._fresh, None
            return fresh

    def answer(self, point: Point) -> Result | None:
        """The finished answer for exactly this point, if it is the latest one."""
        last = self.last
        return last[1] if last is not None and last[0] == point else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._wanted = None
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    if self._wanted is None:
                        self._cond.wait()
                        continue
                    point, asked = self._wanted
                    left = asked + self._rest - time.monotonic()
                    if left > 0:
                        self._cond.wait(left)
                        continue
                    self._wanted, self._running = None, point
                    break
            try:
                result: Result | None = self._decode(point)
            except Exception:  # e.g. a model that cannot decode this point: no outline, nothing else
                result = None
            with self._cond:
                self._running = None
                if result is not None:
                    self.seconds.append(result.seconds)
                    self._fresh = self.last = (point, result)
                self._cond.notify_all()


class PickSession:
    """The model, the image as darktable displays it (EXIF orientation N), the history, and timings.

    Encoding starts in the background as soon as the session exists, so the window can open at once.
    """

    def __init__(self, model: Model, image: Image, orientation: int = 1, guide: Background[Guide] | None = None):
        self.model = model
        self.image = image
        self.orientation = orientation
        self.guide = guide  # with a guide, `image` is its small preview, shown as is
        self.display_width, self.display_height = display_size(image.width, image.height, orientation)
        self.history = History()
        self.embedding: Embedding | None = None
        self.encode_seconds = 0.0
        self.decode_seconds: list[float] = []
        self._started = time.perf_counter()
        self._encoding = Background(lambda: model.encode(image))
        self._hover: Hover | None = None
        self._subject: Background | None = None
        self._decodes: list[tuple[Entry, Background[tuple[Result, bool]]]] = []  # asked, not taken yet

    # --- the embedding ------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once the embedding is here; picks up the background encoder's result (or its error)."""
        if self.embedding is None and self._encoding.done:
            self.embedding = self._encoding.result()
            self.encode_seconds = time.perf_counter() - self._started
        return self.embedding is not None

    @property
    def guide_ready(self) -> bool:
        """True once the full-resolution guide is read (always, without one); raises what loading it raised."""
        if self.guide is None:
            return True
        if self.guide.done:
            self.guide.result()
            return True
        return False

    # --- prompts, in displayed-image pixels ---------------------------------------------------------------

    def to_file(self, u: float, v: float) -> Point:
        """Map a displayed-image pixel to the file frame; points off the displayed image are a usage error."""
        if not (0 <= u <= self.display_width - 1 and 0 <= v <= self.display_height - 1):
            raise UsageError(f"point {u:g},{v:g} is outside the displayed {self.display_width}x"
                             f"{self.display_height} image")
        x, y = display_to_file(u, v, self.orientation, self.image.width, self.image.height)
        return float(x), float(y)

    def click(self, u: float, v: float, positive: bool) -> Entry:
        point = self.to_file(u, v)
        self._drop_hover()
        return self.history.click(point, positive)

    def stroke(self, points: Sequence[tuple[float, float]], positive: bool) -> Entry:
        """A brush stroke through displayed-image pixels, kept as a polyline in the file frame (one step)."""
        if not len(points):
            raise UsageError("a stroke needs at least one point")
        stroke = tuple(self.to_file(u, v) for u, v in points)
        self._drop_hover()
        return self.history.stroke(stroke, positive)

    def box(self, u0: float, v0: float, u1: float, v1: float) -> Entry:
        """A box dragged between two displayed corners; stored as (x0, y0, x1, y1) with x0 < x1, y0 < y1."""
        (xa, ya), (xb, yb) = self.to_file(u0, v0), self.to_file(u1, v1)
        self._drop_hover()
        return self.history.set_box((min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)))

    # --- hover: what a click would select, never part of the history ---------------------------------------

    def hover(self, u: float, v: float, rest: float = 0.05) -> None:
        """Ask for the object under displayed pixel (u, v) (needs the embedding); answers come from
        :meth:`hover_answer`. The history is not touched."""
        if self._hover is None:
            self._hover = Hover(self._decode_alone, rest)
        self._hover.want(self.to_file(u, v))

    def _decode_alone(self, point: Point) -> Result:
        return self.model.decode(self.embedding, Prompts(points=[point]), refine=LIVE)

    def hover_answer(self) -> tuple[Point, Result] | None:
        """The newest finished hover answer not handed out yet: (file point, result)."""
        return self._hover.take() if self._hover is not None else None

    @property
    def hover_pending(self) -> bool:
        return self._hover is not None and self._hover.pending

    @property
    def hover_seconds(self) -> list[float]:
        return self._hover.seconds if self._hover is not None else []

    def _drop_hover(self) -> None:
        if self._hover is not None:
            self._hover.drop()

    def close(self) -> None:
        """Stop hovering (waiting for a running hover decode, so it does not compete with Apply's)."""
        if self._hover is not None:
            self._hover.close()
            self._hover.settle()

    def settle(self, timeout: float = 60.0) -> None:
        """After a cancel or an error: let the background work end before the process does."""
        self.close()
        for work in (self._encoding, self.guide, self._subject, *(w for _, w in self._decodes)):
            if work is not None:
                work.wait(timeout)

    # --- the subject: a proposed selection --------------------------------------------------------------------

    def start_subject(self) -> None:
        """Look for the main subject in the background (once per session; needs the embedding)."""
        if self._subject is None:
            self._subject = Background(lambda: find_subject(self.model, self.embedding))

    @property
    def subject_running(self) -> bool:
        return self._subject is not None and not self._subject.done

    def propose_subject(self) -> Entry:
        """The subject found (raises what the finder raised) as a new step: its prompts replace the selection and
        are then ordinary prompts, refined by clicks and undone like them."""
        subject = self._subject.result()
        entry = self.history.propose(Selection.of(subject.prompts))
        entry.result = subject.result  # the same prompts decoded with no previous mask, as this step would be
        return entry

    # --- masks: decoded off the Tk thread, one at a time, in the order asked -----------------------------------

    @property
    def result(self) -> Result | None:
        """The current step's mask once decoded (None before, or with nothing selected); never decodes."""
        entry = self.history.current
        return entry.result if entry.selection.has_foreground else None

    @property
    def decoding(self) -> bool:
        """A decode asked for with :meth:`request_decode` has not been taken with :meth:`take_decoded` yet."""
        return bool(self._decodes)

    def request_decode(self) -> bool:
        """Start decoding the current step in the background when it needs a mask and the embedding is here;
        True when its mask is on its way (now or already)."""
        entry = self.history.current
        if entry.result is not None or not entry.selection.has_foreground or not self.ready:
            return False
        if any(asked is entry for asked, _ in self._decodes):
            return True
        before = self._decodes[-1][1] if self._decodes else None
        basis = next((work for asked, work in self._decodes if asked is entry.refines), None)
        self._decodes.append((entry, Background(lambda: self._decode_step(entry, before, basis))))
        return True

    def take_decoded(self) -> list[tuple[Entry, UsageError | None]]:
        """Store the finished decodes' masks in their steps (call it from the Tk thread) and return those steps in
        the order asked, each with the usage error its decode raised (e.g. a box for a model that takes none; the
        step then has no mask). Any other error is raised."""
        taken: list[tuple[Entry, UsageError | None]] = []
        while self._decodes and self._decodes[0][1].done:
            entry, work = self._decodes.pop(0)
            try:
                entry.result, decoded = work.result()
            except UsageError as exc:
                taken.append((entry, exc))
                continue
            if decoded:
                self.decode_seconds.append(entry.result.seconds)
            taken.append((entry, None))
        return taken

    def wait_decoded(self) -> list[tuple[Entry, UsageError | None]]:
        """Block until every decode asked for is done, then take them (for callers without an event loop)."""
        for _, work in list(self._decodes):
            work.wait()
        return self.take_decoded()

    def _decode_step(self, entry: Entry, before: Background | None, basis: Background | None) -> tuple[Result, bool]:
        """In the background: the step's mask and whether the decoder ran for it (False: the hover had it).
        Waits for the decode asked before; ``basis`` is the pending decode of the step this one refines, whose mask
        is not in that step yet."""
        if before is not None:
            before.wait()
        previous = entry.basis
        if basis is not None and not basis.failed:
            previous = basis.result()[0]
        prompts = entry.selection.prompts()
        if self._hover is not None:  # the click goes first: nothing new starts, a running decode ends
            self._hover.drop()
            self._hover.settle()
            if previous is None and len(prompts.points) == 1 and prompts == Prompts(points=prompts.points):
                answer = self._hover.answer(prompts.points[0])  # a first click where the pointer rested
                if answer is not None:
                    return answer, False
        return self.model.decode(self.embedding, prompts, previous=previous, refine=LIVE), True

    def mask_size(self) -> tuple[int, int]:
        """The mask file's width and height: the guide's raster frame (once it is read), else the photo's."""
        if self.guide is None:
            return self.image.width, self.image.height
        raster = self.guide.result().raster
        return raster.width, raster.height

    def finish(self, feather_px: float = 0.0, out: np.ndarray | None = None) -> tuple[Result, np.ndarray]:
        """Apply: decode the current step with every refinement stage (as ``dtmask segment`` does) and make the
        full-resolution file-frame mask, once; in ``out`` (zeroed, :meth:`mask_size`) when given and the guide
        is not turned."""
        entry = self.history.current
        if not entry.selection.has_foreground:
            raise UsageError("nothing is selected: click on the object (or drag a box) before applying")
        self.close()
        embedding, prompts = self.embedding, entry.selection.prompts()
        guide = self.guide.result() if self.guide is not None else None
        if guide is not None:  # the preview's features, the guide's pixels: edges and size at full resolution
            embedding = replace(embedding, image=guide.display)
            prompts = guide.from_preview(prompts, self.image)
        result = self.model.decode(embedding, prompts, previous=entry.basis)
        if guide is not None and guide.orientation != 1:  # made over the turned guide, then turned into the file's
            return result, guide.mask_to_raster(result.mask(invert=entry.selection.invert, feather_px=feather_px))
        return result, result.mask(invert=entry.selection.invert, feather_px=feather_px, out=out)

    def file_prompts(self) -> Prompts:
        """The current prompts in the frame of the mask file (with a guide: its raster frame, full resolution)."""
        prompts = self.history.selection.prompts()
        if self.guide is None:
            return prompts
        guide = self.guide.result()
        return guide.to_raster(guide.from_preview(prompts, self.image))
