"""``dtmask pick``: the interactive object picker (a tkinter window), from image file to mask file.

Modules, one concern each: ``state`` (undoable selection), ``session`` (display -> file frame, decoding off the
Tk thread), ``guide`` (the full-resolution export that arrives while the user clicks on a preview), ``viewport``
(zoom and pan), ``gestures`` (presses and drags -> clicks, boxes, strokes, pans), ``status`` (the status line and
when Apply may go), ``render`` (canvas pixels), ``script`` (``--script`` files and their playing), ``window``
(tkinter wiring and drawing). Only ``window`` imports tkinter.
Importing this package does not import tkinter: :func:`run` checks for it and says what to install.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import promptfile
from ..errors import DtmaskError
from ..imageio import mask_file, read_image
from ..model import load_model
from ..jobs.files import SegmentReport, check_output, check_prompts_output
from .guide import Guide, wait_for
from .script import Step
from .session import Background

if TYPE_CHECKING:
    from .session import PickSession
    from .window import PickerWindow

NO_TK = ("the picker needs tkinter, which this Python lacks: install it (Debian/Ubuntu: apt install python3-tk; "
         "Fedora: dnf install python3-tkinter; macOS Homebrew: brew install python-tk), or use "
         "`dtmask segment IMAGE --point X,Y -o MASK` instead")


@dataclass
class PickJob:
    image: str
    output: str
    orientation: int = 1
    model: str | None = None
    device: str = "auto"
    fmt: str | None = None
    feather: float = 0.0
    script: list[Step] | None = None
    guide: str | None = None  # the full-resolution raster-frame export; `image` is then its small preview
    wait: float = 0.0  # seconds to wait for `image` and `guide` to be written (by darktable)
    prompts_file: str | None = None  # open on these saved prompts (promptfile), in the mask's frame
    save_prompts: str | None = None  # also write the prompts of the mask here (promptfile)


def require_tk() -> None:
    """Fail with what to install when this Python has no tkinter (e.g. Debian's python3 without python3-tk)."""
    try:
        import tkinter  # noqa: F401
    except ImportError:
        raise DtmaskError(NO_TK) from None


def start_from(session: "PickSession", saved: promptfile.SavedPrompts | None) -> None:
    """Open on saved prompts (editing a mask): they are in the mask's frame, the session's selection is in the
    frame of the image it shows, which with a guide is the preview (the saved frame turned and scaled down)."""
    from .state import Selection
    if saved is None:
        return
    image = session.image
    if session.guide is not None:
        prompts = saved.in_frame(image.width, image.height, saved.orientation)
    else:
        prompts = saved.in_frame(image.width, image.height)
    session.history.propose(Selection.of(prompts))


def save_prompts(path: str | None, session: "PickSession", width: int, height: int, n: int) -> None:
    """The mask's prompts next to it, in its frame, with the orientation the picker showed it in."""
    if path:
        promptfile.save(path, promptfile.SavedPrompts(session.file_prompts(), width, height, n))


def check_turned_as_saved(saved: promptfile.SavedPrompts | None, guide: Background[Guide] | None, n: int) -> None:
    """With a guide, saved prompts were placed on the preview by their saved orientation: refuse (before anything
    is written) when the guide shows the photo is turned otherwise now."""
    if saved and guide and n != saved.orientation:
        raise DtmaskError(f"the photo is shown turned otherwise (orientation {n}) than when its prompts were saved "
                          f"({saved.orientation}): make the mask anew; nothing was written")


def open_window(session: "PickSession", script: list[Step] | None) -> "PickerWindow":
    """The picker's window on the session; no display is one line saying what to use instead."""
    import tkinter

    from .window import PickerWindow
    try:
        return PickerWindow(session, script)
    except tkinter.TclError as exc:
        raise DtmaskError(f"cannot open the picker window ({exc}); without a display use `dtmask segment`") from None


def click_times(clicks: list[float], session: "PickSession") -> dict[str, float]:
    """The report's latency fields: clicks as the user saw them, the decodes behind them and the hover's."""
    times = {}
    if clicks:
        times["click_median"] = statistics.median(clicks)
        times["click_max"] = max(clicks)
    if session.decode_seconds:
        times["decode_median"] = statistics.median(session.decode_seconds)
    if session.hover_seconds:
        times["hover_decode_median"] = statistics.median(session.hover_seconds)
    return times


def run(job: PickJob) -> tuple[SegmentReport, dict]:
    """Open the picker on the image; on Apply write the mask and return the report plus picker-only fields.

    Raises Cancelled (exit 3) when the user closes the window or presses Esc: nothing is written then.
    """
    require_tk()
    from .session import PickSession

    times: dict[str, float] = {}
    timeline = {"start": time.time()}  # wall-clock stamps, for the darktable benchmark's timeline
    start = time.perf_counter()
    reading = [job.image] + ([job.guide] if job.guide else [])
    fmt = check_output(job.output, job.fmt, reading=reading)
    check_prompts_output(job.save_prompts, job.output, reading)
    saved = promptfile.load(job.prompts_file) if job.prompts_file else None
    loading = Background(lambda: load_model(job.model, job.device))  # meanwhile darktable may still be exporting
    image = read_image(wait_for(job.image, job.wait))
    times["read"] = time.perf_counter() - start
    closed = threading.Event()
    guide = Background(lambda: Guide.load(job.guide, image, job.wait, closed)) if job.guide else None
    model = loading.result()
    times["load"] = time.perf_counter() - start
    session = PickSession(model, image, 1 if guide else job.orientation, guide)
    start_from(session, saved)
    window = open_window(session, job.script)
    timeline["window"] = time.time()
    try:
        window.run()
    except BaseException:  # cancelled or failed: nothing more to wait for, and no thread left running
        closed.set()
        session.settle()
        raise
    timeline.update(window.timeline)
    times["encode"] = session.encode_seconds
    n = guide.result().orientation if guide else job.orientation
    check_turned_as_saved(saved, guide, n)  # before the full-resolution refinement, not after it
    t = time.perf_counter()
    with mask_file(job.output, fmt, *session.mask_size()) as target:
        result, mask = session.finish(job.feather, out=target.canvas)
        times["refine"] = time.perf_counter() - t
        t = time.perf_counter()
        target.write(mask)
    height, width = mask.shape
    save_prompts(job.save_prompts, session, width, height, n)
    times["write"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - start
    timeline["written"] = time.time()
    times.update(click_times(window.click_seconds, session))
    selection = session.history.selection
    notes = list(image.notes) + (guide.result().raster.notes if guide else [])
    notes += [model.notice] if model.notice else []
    report = SegmentReport(output=str(Path(job.output).resolve()), width=width, height=height,
                           model=model.id, score=result.score, cached=session.embedding.cached,
                           prompts=session.file_prompts().as_json(), timings=times, notes=notes)
    extra = {"orientation": n, "invert": selection.invert, "clicks": len(window.click_seconds),
             "hovers": len(session.hover_seconds), "timeline": timeline}
    return report, extra
