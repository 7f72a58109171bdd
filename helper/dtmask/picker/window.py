"""The picker window: Tk wiring and drawing. Tk events -> :mod:`.gestures` -> :class:`PickSession`; the session's
state -> canvas pixels, markers and the :mod:`.status` line.

Mouse and keyboard events and ``--script`` steps (:mod:`.script`) call the same handler methods (``add_point``,
``set_box``, ``add_stroke``, ``subject``, ``hover``, ``undo`` ... ``apply``), so scripted runs exercise the real
window. A click's mask is decoded off the Tk thread (the session's decode queue); the window polls for it and
draws it when it is there, so the window stays responsive while the decoder runs.

Hover: while no button is pressed, the object a click would select is outlined (yellow). The decode runs in the
session's hover thread; this window asks for the pointer's latest position, shows only the answer for it, and
never lets a hover answer into the history.
"""

from __future__ import annotations

import time
import tkinter as tk
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import Cancelled, DtmaskError, UsageError
from ..geometry import file_to_display
from .gestures import Box, Click, Drawing, Gesture, Gestures, Pan, Rubber, Stroke
from .render import VIEWS, Backdrop, ImageSource, make_preview, mask_on_canvas, ppm
from .script import Player, Step, call
from .session import Background, PickSession
from .state import Entry
from .status import BUSY, NOTHING_SELECTED, Status, apply_wait
from .viewport import Viewport

KEYS_HELP = ("click: add   right/Shift-click: remove   drag: box   B: brush (or Alt-drag; right/Shift: remove)   "
             "S: subject   Ctrl+Z / Ctrl+Shift+Z: undo / redo   R: reset   I: invert   Tab: view   wheel: zoom   "
             "middle/Space-drag: pan   F: fit   Enter: apply   Esc: cancel")
ZOOM_STEP = 1.25
POLL_MS = 40
DECODE_POLL_MS = 4  # a click's mask is picked up this soon after the decoder thread has it
SCRIPT_STEP_MS = 30
SHIFT = 0x0001
BUTTONS = 0x1F00  # any mouse button held
ALT = {"x11": 0x0008, "aqua": 0x0010, "win32": 0x20000}  # Mod1 on X11, Option on macOS, Alt on Windows
MARKER_RADIUS = 7
STROKE_WIDTH = 5
COLOURS = {True: "#2ee05a", False: "#ff3b3b"}  # + and - prompts
HOVER_REST = 0.05  # seconds the pointer rests before the object under it is decoded
HOVER_POLL_MS = 15
SAMPLED = 3  # masks kept sampled on the canvas: the current step's, the hover's, and one undo away


class PickerWindow:
    """One window on one :class:`PickSession`. Construct it, then :meth:`run` (or pump ``root.update()``)."""

    def __init__(self, session: PickSession, script: list[Step] | None = None):
        self.session = session
        self.view = VIEWS[0]
        self.outcome: str | None = None  # "applied" or "cancelled"
        self.error: BaseException | None = None
        self.click_seconds: list[float] = []  # click -> overlay on screen, once the embedding is ready
        self.timeline: dict[str, float] = {}  # wall-clock stamps: the first mask on screen, Apply
        self._scripted = script is not None
        self._player = Player(script or [])
        self._notice = ""
        self._apply_pending = False
        self._user_zoomed = False
        self._space = False
        self.brush = False  # B: left / right drags draw + / - strokes
        self._timed: list[tuple[Entry, float]] = []  # clicks waiting for their mask, and when they came
        self._decode_polling = False
        self._hover_on = not self._scripted  # off in scripted runs except at a hover step
        self._hover_point: tuple[float, float] | None = None  # the file point asked for last
        self._hover_result = None  # shown; never part of the history
        self._hover_polling = False
        self._subject_waiting = False
        self._render_queued = False
        self._ticks = 0
        self._was_ready = False
        self._source = ImageSource(session.image, session.orientation)
        self._preview: Background | None = None
        self._backdrop: Backdrop | None = None
        self._visible: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self._sampled: list[tuple[object, np.ndarray]] = []  # (result, its mask on the canvas), newest first
        self._build()
        self._bind()
        self._render_view()
        self.root.after(POLL_MS, self._poll)
        if self._scripted:
            self.root.after(SCRIPT_STEP_MS, self._play)

    # --- building -----------------------------------------------------------------------------------------

    def _build(self) -> None:
        s = self.session
        self.root = tk.Tk(className="dtmask")
        self.root.title(f"dtmask · {Path(s.image.path).name or 'image'}")
        self.root.report_callback_exception = self._callback_failed
        self.root.protocol("WM_DELETE_WINDOW", self.cancel)
        screen_w, screen_h = self.root.winfo_screenwidth(), self.root.winfo_screenheight()
        fit = min(1.0, 0.92 * screen_w / s.display_width, (0.88 * screen_h - 70) / s.display_height)
        width, height = max(320, round(s.display_width * fit)), max(200, round(s.display_height * fit))
        self.viewport = Viewport(width, height, s.display_width, s.display_height)
        self.viewport.fit()
        self.gestures = Gestures(self.viewport, s.display_width, s.display_height)
        self.canvas = tk.Canvas(self.root, width=width, height=height, bg="#1e1e1e", highlightthickness=0,
                                cursor="crosshair")
        self.canvas.pack(fill="both", expand=True)
        self._photo = tk.PhotoImage(master=self.root)
        self._scratch = tk.PhotoImage(master=self.root)  # a changed region on its way into _photo
        self._image_item = self.canvas.create_image(0, 0, anchor="nw", image=self._photo)
        bar = tk.Frame(self.root)
        bar.pack(fill="x")
        tk.Button(bar, text="Cancel", command=self.cancel, takefocus=0).pack(side="right", padx=4, pady=3)
        tk.Button(bar, text="Apply", command=self.apply, takefocus=0, default="active").pack(side="right")
        tk.Button(bar, text="Subject", command=self.subject, takefocus=0).pack(side="right", padx=4)
        self.status = _wrapping_label(bar)
        self.status.pack(side="left", fill="x", expand=True, padx=6)
        _wrapping_label(self.root, text=KEYS_HELP, fg="#555555", font=("TkDefaultFont", 8)).pack(fill="x", padx=6)
        self.canvas.create_text(14, 14, anchor="nw", text=BUSY, fill="white",
                                font=("TkDefaultFont", 12, "bold"), tags=("busy", "busy-text"))
        x0, y0, x1, y1 = self.canvas.bbox("busy-text")
        self.canvas.create_rectangle(x0 - 6, y0 - 4, x1 + 6, y1 + 4, fill="#000000", stipple="gray50",
                                     outline="", tags="busy")
        self.canvas.tag_raise("busy-text")
        self._update_status()

    def _bind(self) -> None:
        c, r = self.canvas, self.root
        aqua = r.tk.call("tk", "windowingsystem") == "aqua"
        right, middle = (2, 3) if aqua else (3, 2)
        for number, button in ((1, "left"), (right, "right"), (middle, "middle")):
            c.bind(f"<ButtonPress-{number}>", lambda e, b=button: self._on_press(e, b))
            c.bind(f"<B{number}-Motion>", lambda e: self._gesture(self.gestures.drag(e.x, e.y)))
            c.bind(f"<ButtonRelease-{number}>", self._on_release)
        c.bind("<Motion>", self._on_motion)
        c.bind("<Leave>", lambda e: self._clear_hover())
        self._alt = ALT.get(r.tk.call("tk", "windowingsystem"), 0x0008)
        c.bind("<MouseWheel>", lambda e: self._zoom(e.x, e.y, e.delta > 0))
        c.bind("<Button-4>", lambda e: self._zoom(e.x, e.y, True))
        c.bind("<Button-5>", lambda e: self._zoom(e.x, e.y, False))
        c.bind("<Configure>", self._on_resize)
        keys: dict[str, Callable[[], None]] = {
            "<Control-z>": self.undo, "<Control-Z>": self.redo, "<Control-y>": self.redo,
            "<KeyPress-r>": self.reset, "<KeyPress-R>": self.reset, "<KeyPress-i>": self.invert,
            "<KeyPress-I>": self.invert, "<KeyPress-f>": self.fit, "<KeyPress-F>": self.fit,
            "<KeyPress-b>": self.toggle_brush, "<KeyPress-B>": self.toggle_brush,
            "<KeyPress-s>": self.subject, "<KeyPress-S>": self.subject,
            "<Return>": self.apply, "<KP_Enter>": self.apply, "<Escape>": self.cancel, "<Tab>": self.cycle_view,
        }
        for sequence, handler in keys.items():
            r.bind(sequence, lambda e, h=handler: (h(), "break")[1])
        r.bind("<KeyPress-space>", lambda e: self._set_space(True))
        r.bind("<KeyRelease-space>", lambda e: self._set_space(False))

    # --- handlers: events and script steps both end here -----------------------------------------------------

    def add_point(self, u: float, v: float, positive: bool) -> None:
        """A + (or -) click at displayed-image pixel (u, v)."""
        self._change(lambda: self.session.click(u, v, positive), timed=True)

    def set_box(self, u0: float, v0: float, u1: float, v1: float) -> None:
        """A box between two displayed-image corners (replaces any earlier box)."""
        self._change(lambda: self.session.box(u0, v0, u1, v1), timed=True)

    def add_stroke(self, points: list[tuple[float, float]], positive: bool) -> None:
        """A brush stroke through displayed-image pixels: + (foreground) or - (background)."""
        self._change(lambda: self.session.stroke(points, positive), timed=True)

    def hover(self, u: float, v: float) -> None:
        """Outline what a click at displayed-image pixel (u, v) would select (once the image is analysed)."""
        if not self.session.ready:
            return
        point = self.session.to_file(u, v)
        if point == self._hover_point:
            return
        self._hover_point = point
        self.session.hover(u, v, HOVER_REST)
        if not self._hover_polling:
            self._hover_polling = True
            self.root.after(HOVER_POLL_MS, self._poll_hover)

    def toggle_brush(self) -> None:
        """B: brush mode on / off."""
        self.brush = not self.brush
        self._set_cursor()
        self._update_status()

    def subject(self) -> None:
        """S / Subject: propose the main subject as a new, undoable step (found in the background)."""
        if self._subject_waiting:
            return
        self._subject_waiting = True
        if self.session.ready:
            self._start_subject()
        self._update_status()

    def undo(self) -> None:
        self._change(self.session.history.undo)

    def redo(self) -> None:
        self._change(self.session.history.redo)

    def reset(self) -> None:
        self._change(self.session.history.reset)

    def invert(self) -> None:
        self._change(self.session.history.invert)

    def cycle_view(self) -> None:
        """Tab: overlay -> mask -> outline -> original."""
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        self._render_mask()
        self._update_status()

    def fit(self) -> None:
        self._user_zoomed = False
        self.viewport.fit()
        self._queue_render()

    def apply(self) -> None:
        """Enter / Apply: finish with the current mask (waits for the analysis, for the subject when it is being
        looked for, and for the last click's mask)."""
        s = self.session
        wait = apply_wait(s.ready, self._subject_waiting, s.decoding, s.result is not None, s.guide_ready)
        self._apply_pending = bool(wait)
        if wait:
            self._say(wait)
        elif wait == "":
            if self._scripted:
                raise UsageError("the script applies with nothing selected: give a point or a box first")
            self._say(NOTHING_SELECTED)
        else:
            self.timeline["apply"] = time.time()
            self._finish("applied")

    def cancel(self) -> None:
        """Esc, Cancel or closing the window."""
        self._finish("cancelled")

    # --- running ---------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while background work runs: the analysis, then the zoomed-out preview, a click's mask, a subject
        or a hover."""
        return (not self._was_ready or self._preview is not None or self._subject_waiting
                or self.session.decoding or self.session.hover_pending)

    @property
    def hovered(self):
        """The hover answer outlined now (a Result, never part of the history), or None."""
        return self._hover_result

    def run(self) -> None:
        """Show the window until Apply; raises Cancelled when cancelled, or the error that ended it."""
        try:
            self.root.mainloop()
        finally:
            self.close()
        if isinstance(self.error, KeyboardInterrupt):
            raise Cancelled("cancelled")
        if self.error is not None:
            raise self.error
        if self.outcome != "applied":
            raise Cancelled("cancelled in the picker; no mask written")

    def close(self) -> None:
        """Destroy the window, its timers and its photo image now, in this (the Tk) thread.

        Tk objects must never be freed by a garbage collection that happens to run in the encoder's thread (Tcl
        aborts the process), so the reference cycle through the error handler is broken here too.
        """
        self.session.close()
        try:
            for pending in self.root.tk.splitlist(self.root.tk.call("after", "info")):
                self.root.after_cancel(pending)
            self._photo = self._scratch = None
            self.root.destroy()
        except tk.TclError:  # already gone
            pass
        self.root.__dict__.pop("report_callback_exception", None)

    def _finish(self, outcome: str) -> None:
        self.outcome = outcome
        self.root.quit()

    def _callback_failed(self, kind, error, traceback) -> None:
        """A handler raised: end the run with that error (the CLI turns it into one line)."""
        self.error = error
        self.root.quit()

    def _poll(self) -> None:
        """Pick up the background work: the embedding (then decode the clicks made meanwhile) and the preview."""
        if self.outcome or self.error:
            return
        if not self._was_ready and self.session.ready:
            self._was_ready = True
            self.canvas.delete("busy")
            self._preview = Background(lambda: make_preview(self.session.image, self.session.orientation))
            self._change(None)
            if self._subject_waiting:
                self._start_subject()
            elif self._apply_pending:
                self.apply()
        if self._subject_waiting and self._was_ready and not self.session.subject_running:
            self._subject_found()
        guide_in = self.session.guide_ready  # raises when the guide failed: no mask could be written
        if self._apply_pending and not self.outcome and self._was_ready and guide_in:
            self.apply()
        if self._preview is not None and self._preview.done:
            self._source.preview = self._preview.result()
            self._preview = None
            self._render_view()
        if not self._was_ready:
            self._ticks += 1
            self._update_status()
        self.root.after(POLL_MS, self._poll)

    def _play(self) -> None:
        """Run the next script step through the handlers, once the work of the steps before it has ended."""
        if self.outcome or self.error or self._player.done:
            return
        s = self.session
        step = self._player.next(s.ready, self._subject_waiting or s.decoding or s.hover_pending)
        if step is not None:
            name, args = call(step)
            getattr(self, name)(*args)
        self.root.after(SCRIPT_STEP_MS, self._play)

    # --- subject and hover -----------------------------------------------------------------------------------

    def _start_subject(self) -> None:
        try:
            self.session.start_subject()
        except ImportError:
            self._subject_waiting = False
            self._say("the subject finder is not available in this installation")

    def _subject_found(self) -> None:
        """The subject search ended: its prompts become a step (or its error a notice)."""
        self._subject_waiting = False
        try:
            self._change(self.session.propose_subject)
        except DtmaskError as exc:
            if self._scripted:
                raise
            self._say(str(exc))
        if self._apply_pending:
            self.apply()

    def _poll_hover(self) -> None:
        """Show the hover answer for the pointer's latest position (older answers are dropped)."""
        if self.outcome or self.error:
            return
        answer = self.session.hover_answer()
        if answer is not None and answer[0] == self._hover_point:
            self._hover_result = answer[1]
            self._render_mask()
        if self.session.hover_pending:
            self.root.after(HOVER_POLL_MS, self._poll_hover)
        else:
            self._hover_polling = False

    def _clear_hover(self) -> None:
        """No outline until the pointer moves again (after a click, a press, or leaving the canvas)."""
        self._hover_point = None
        if self._hover_result is not None:
            self._hover_result = None
            self._render_mask()

    # --- changes and drawing -------------------------------------------------------------------------------

    def _change(self, change: Callable[[], object] | None, timed: bool = False) -> None:
        """Apply a change to the selection and redraw; a step that needs a mask has it decoded in the background
        (the mask on screen stays until the new one is drawn), a ``timed`` one is timed until then."""
        start = time.perf_counter()
        if change is not None:
            self._hover_point, self._hover_result = None, None
            change()
        self._notice = ""
        if self.session.request_decode():
            if timed:
                self._timed.append((self.session.history.current, start))
            if not self._decode_polling:
                self._decode_polling = True
                self.root.after(DECODE_POLL_MS, self._poll_decodes)
        else:
            self._render_mask()
            if self.session.result is not None:
                self.timeline.setdefault("first_mask", time.time())
        self._draw_markers()
        self._update_status()

    def _poll_decodes(self) -> None:
        """Pick up the masks decoded since the last poll; draw the current step's when it is among them."""
        if self.outcome or self.error:
            return
        current = self.session.history.current
        for entry, error in self.session.take_decoded():
            if error is not None:
                self._refused(entry, error)
            elif entry is current:
                self._render_mask()
                self._update_status()
                self.root.update_idletasks()
                self.timeline.setdefault("first_mask", time.time())
                self.click_seconds += [time.perf_counter() - t for e, t in self._timed if e is entry]
            self._timed = [(e, t) for e, t in self._timed if e is not entry]
        if self.session.decoding:
            self.root.after(DECODE_POLL_MS, self._poll_decodes)
            return
        self._decode_polling = False
        if self._apply_pending:
            self.apply()

    def _refused(self, entry: Entry, error: UsageError) -> None:
        """A step the model cannot decode (e.g. a box for a model that takes none): say so and drop the step."""
        if self._scripted:
            raise error
        if entry is self.session.history.current:
            self.session.history.undo()
        self._change(None)
        self._say(str(error))

    def _queue_render(self) -> None:
        """Redraw after pending events: a fast drag or wheel spin draws once, not once per event."""
        if not self._render_queued:
            self._render_queued = True
            self.root.after_idle(self._render_view)

    def _render_view(self) -> None:
        """The viewport changed: sample the image under it, then the mask and markers."""
        self._render_queued = False
        c0, r0, xs, ys = self.viewport.visible()
        self._visible = (xs, ys)
        self.canvas.coords(self._image_item, c0, r0)
        self._backdrop = Backdrop(self._source.sample(xs, ys, self.viewport.scale)) if xs.size and ys.size else None
        self._sampled = []
        self._render_mask()
        self._draw_markers()
        self._update_status()

    def _render_mask(self) -> None:
        """Draw the current step's mask and the hover outline; only the pixels they change go to Tk."""
        if self._backdrop is None:
            return
        entry = self.session.history.current
        inside = None
        if entry.result is not None and entry.selection.has_foreground:
            inside = self._on_canvas(entry.result)
            inside = ~inside if entry.selection.invert else inside
        hover = self._on_canvas(self._hover_result) if self._hover_result is not None else None
        region = self._backdrop.update(inside, self.view, hover)
        if region is not None:
            self._put(self._backdrop.picture, region)

    def _put(self, picture: np.ndarray, region: tuple[int, int, int, int]) -> None:
        """Hand Tk the region of the picture that changed (all of it when the photo's size changes)."""
        if (self._photo.height(), self._photo.width()) != picture.shape[:2]:
            self._photo.configure(data=ppm(picture), format="PPM")
            return
        y0, y1, x0, x1 = region  # Tk's own `put` of PPM data is slower than this copy from a photo off screen
        self._scratch.configure(data=ppm(picture[y0:y1, x0:x1]), format="PPM")
        self._photo.tk.call(self._photo.name, "copy", self._scratch.name, "-from", 0, 0, x1 - x0, y1 - y0,
                            "-to", x0, y0)

    def _on_canvas(self, result) -> np.ndarray:
        """A mask's canvas pixels, remembered for the last few masks until the view moves (a hover answer or a
        status change then redraws without sampling again)."""
        for seen, inside in self._sampled:
            if seen is result:
                return inside
        s = self.session
        xs, ys = self._visible
        inside = mask_on_canvas(result.logits, xs, ys, s.orientation, s.image.width, s.image.height)
        self._sampled = [(result, inside)] + self._sampled[:SAMPLED - 1]
        return inside

    def _to_canvas(self, x: float, y: float) -> tuple[float, float]:
        s = self.session
        return self.viewport.to_canvas(*file_to_display(x, y, s.orientation, s.image.width, s.image.height))

    def _draw_markers(self) -> None:
        """Every + and - click and the box, where they are on the image."""
        c = self.canvas
        c.delete("marker")
        selection = self.session.history.selection
        r = MARKER_RADIUS
        for strokes, positive in ((selection.strokes, True), (selection.negative_strokes, False)):
            for stroke in strokes:
                flat = [n for x, y in stroke for n in self._to_canvas(x, y)]
                self._draw_stroke(flat, positive, "marker")
        for points, fill, sign in ((selection.points, COLOURS[True], "+"), (selection.negatives, COLOURS[False],
                                                                            "−")):
            for x, y in points:
                cx, cy = self._to_canvas(x, y)
                c.create_oval(cx - r, cy - r, cx + r, cy + r, fill=fill, outline="black", width=1.5, tags="marker")
                c.create_text(cx, cy, text=sign, fill="black", font=("TkDefaultFont", 11, "bold"), tags="marker")
        if selection.box is not None:
            x0, y0, x1, y1 = selection.box
            (a, b), (p, q) = self._to_canvas(x0, y0), self._to_canvas(x1, y1)
            c.create_rectangle(min(a, p), min(b, q), max(a, p), max(b, q), outline="#ffd400", width=2,
                               dash=(6, 3), tags="marker")

    def _draw_stroke(self, flat: list[float], positive: bool, tag: str) -> None:
        """A brush stroke on the canvas: a coloured line on a dark edge (a dot for a one-point stroke)."""
        c = self.canvas
        if len(flat) == 2:
            (x, y), r = flat, STROKE_WIDTH / 2 + 1
            c.create_oval(x - r, y - r, x + r, y + r, fill=COLOURS[positive], outline="black", tags=tag)
            return
        c.create_line(*flat, fill="black", width=STROKE_WIDTH + 2, capstyle="round", joinstyle="round", tags=tag)
        c.create_line(*flat, fill=COLOURS[positive], width=STROKE_WIDTH, capstyle="round", joinstyle="round",
                      tags=tag)

    def _say(self, notice: str) -> None:
        self._notice = notice
        self._update_status()

    def _update_status(self) -> None:
        s = self.session
        status = Status(s.model.id, s.ready, s.history.selection, s.result.score if s.result is not None else None,
                        self._subject_waiting, self.view, self.viewport.scale, self.brush, self._notice, self._ticks)
        self.status.configure(text=status.text())

    # --- mouse: events -> gestures -> handlers ------------------------------------------------------------------

    def _on_press(self, e: tk.Event, button: str) -> None:
        self.canvas.focus_set()
        self._clear_hover()
        self._gesture(self.gestures.press(e.x, e.y, button, shift=bool(e.state & SHIFT), alt=bool(e.state & self._alt),
                                          space=self._space, brush=self.brush))

    def _on_release(self, e: tk.Event) -> None:
        self.canvas.delete("rubber")
        self._gesture(self.gestures.release(e.x, e.y, shift=bool(e.state & SHIFT)))

    def _gesture(self, g: Gesture) -> None:
        """Run or draw what a press, drag or release meant."""
        if isinstance(g, Click):
            self.add_point(g.u, g.v, g.positive)
        elif isinstance(g, Box):
            self.set_box(g.u0, g.v0, g.u1, g.v1)
        elif isinstance(g, Stroke):
            self.canvas.delete("stroke")
            self.add_stroke(list(g.points), g.positive)
        elif isinstance(g, Pan):
            self.viewport.pan(g.dx, g.dy)
            self._user_zoomed = True
            self._queue_render()
        elif isinstance(g, Rubber):
            self.canvas.delete("rubber")
            self.canvas.create_rectangle(*g.rect, outline="#ffd400", width=1, dash=(3, 3), tags="rubber")
        elif isinstance(g, Drawing):
            self.canvas.delete("stroke")
            self._draw_stroke(list(g.flat), g.positive, "stroke")

    def _on_motion(self, e: tk.Event) -> None:
        """The pointer moved with no button held: outline what a click here would select."""
        if not self._hover_on or e.state & BUTTONS:
            return
        point = self.gestures.to_image(e.x, e.y)
        if point is None:
            self._clear_hover()
        else:
            self.hover(*point)

    def _zoom(self, cx: int, cy: int, zoom_in: bool) -> None:
        self.viewport.zoom_at(cx, cy, ZOOM_STEP if zoom_in else 1 / ZOOM_STEP)
        self._user_zoomed = True
        self._queue_render()

    def _set_space(self, down: bool) -> None:
        self._space = down
        self._set_cursor()

    def _set_cursor(self) -> None:
        self.canvas.configure(cursor="fleur" if self._space else "pencil" if self.brush else "crosshair")

    def _on_resize(self, e: tk.Event) -> None:
        if (e.width, e.height) != (self.viewport.canvas_width, self.viewport.canvas_height):
            self.viewport.resize(e.width, e.height, keep_zoom=self._user_zoomed)
            self._queue_render()


def _wrapping_label(master: tk.Misc, **options) -> tk.Label:
    """A label that wraps to the width it is given (width=1: it never widens the window to fit its text)."""
    label = tk.Label(master, anchor="w", justify="left", width=1, **options)
    label.bind("<Configure>", lambda e: label.configure(wraplength=max(100, e.width - 4)))
    return label
