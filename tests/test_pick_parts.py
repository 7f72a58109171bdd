"""The picker's parts split out of its window, tested without a display: gestures, the status line, the script
player, and the session's decode queue (real onnxruntime on the tiny models, which draw what they are fed)."""

from __future__ import annotations

import numpy as np
import pytest

import dtmask
from dtmask.errors import UsageError
from dtmask.model import Model
from dtmask.picker.gestures import DRAG_PX, Box, Click, Drawing, Gestures, Pan, Rubber, Stroke
from dtmask.picker.render import HOVER, REACH, Backdrop
from dtmask.picker.script import Player, call
from dtmask.picker.session import PickSession
from dtmask.picker.state import Selection
from dtmask.picker.status import NOTHING_SELECTED, Status, apply_wait
from dtmask.picker.viewport import Viewport
from tiny_models import disc_centre, sam2_pair, segnext_pair

# --- gestures ------------------------------------------------------------------------------------------------


def gestures(scale: float = 2.0) -> Gestures:
    """A 100 x 50 image at `scale` canvas pixels per image pixel, its top-left at canvas (0, 0)."""
    view = Viewport(int(100 * scale), int(50 * scale), 100, 50)
    view.fit()
    return Gestures(view, 100, 50)


def test_a_press_and_release_in_place_is_a_click_shift_or_right_makes_it_negative():
    g = gestures()
    assert g.press(20, 10, "left") is None and g.mode == "click"
    assert g.drag(20 + DRAG_PX - 1, 10) is None  # a shaky hand is still a click
    assert g.release(21, 11) == Click(9.75, 4.75, True)  # where it was pressed, in image pixels
    g.press(20, 10, "left")
    assert g.release(20, 10, shift=True) == Click(9.75, 4.75, False)
    assert g.press(40, 20, "right") == Click(19.75, 9.75, False)  # at once, on the press
    assert g.release(40, 20) is None
    assert g.press(500, 20, "right") is None  # off the image


def test_a_drag_becomes_a_rubber_band_then_a_box_clamped_to_the_image():
    g = gestures()
    g.press(20, 10, "left")
    assert g.drag(20 + DRAG_PX, 10) == Rubber((20, 10, 20 + DRAG_PX, 10)) and g.mode == "box"
    assert g.drag(500, 400) == Rubber((20, 10, 500, 400))
    assert g.release(500, 400) == Box(9.75, 4.75, 99.0, 49.0) and g.mode is None
    g = gestures(scale=32.0)  # deep zoom: a box thinner than a pixel is a + click at the press
    g.viewport.scale = 32.0
    g.press(10, 10, "left")
    g.drag(10 + DRAG_PX, 10 + DRAG_PX)
    assert isinstance(g.release(10 + DRAG_PX, 10 + DRAG_PX), Click)


def test_brush_alt_and_modifiers_draw_strokes_space_and_middle_pan():
    g = gestures()
    first = g.press(20, 10, "left", brush=True)
    assert first == Drawing((20, 10), True)
    assert g.drag(21, 10) is None  # under STROKE_PX: no new point
    assert g.drag(30, 20) == Drawing((20, 10, 30, 20), True)
    end = g.release(400, 20)  # clamped to the image's last column
    assert end == Stroke(((9.75, 4.75), (14.75, 9.75), (99.0, 9.75)), True)
    assert g.press(20, 10, "left", alt=True, shift=True) == Drawing((20, 10), False)
    assert g.release(20, 10).positive is False
    assert g.press(20, 10, "right", brush=True).positive is False
    g.release(20, 10)
    assert g.press(500, 10, "left", brush=True) is None and g.release(500, 10) is None  # strokes start on the image
    for press in ({"button": "left", "space": True}, {"button": "middle"}):
        g.press(20, 10, **press)
        assert g.drag(25, 13) == Pan(5, 3) and g.drag(26, 13) == Pan(1, 0)
        assert g.release(26, 13) is None


# --- the status line and Apply ------------------------------------------------------------------------------------


def test_status_line_for_each_state():
    empty, one = Selection(), Selection(points=((1.0, 1.0),))
    assert Status("m", False, empty, ticks=8).state() == "analysing the image.. (clicks are kept)"
    assert Status("m", True, empty).state() == "click on the object"
    assert Status("m", True, Selection(negatives=((1.0, 1.0),))).state() == "add a + click or a box"
    assert Status("m", True, one).state() == "finding the object…"  # decoding
    assert Status("m", True, one, score=0.876).state() == "score 0.88"
    assert Status("m", True, one, score=1.009).state() == "score 1.00"  # a predicted IoU, as the reports give it
    assert Status("m", True, one, score=0.9, subject=True).state() == "finding the main subject…"
    full = Selection(points=((1.0, 1.0),), negatives=((2.0, 2.0),) * 2, box=(0, 0, 5, 5), invert=True,
                     strokes=(((1.0, 1.0),),), negative_strokes=(((3.0, 3.0),),) * 3)
    text = Status("minisam", True, full, 1.0, view="mask", zoom=0.5, brush=True, notice="hello").text()
    assert text == ("minisam   ·   score 1.00   ·   1 +  2 −  1 brush +  3 brush −  box  inverted   ·   view: mask"
                    "   ·   zoom 50%   ·   BRUSH   ·   hello")


def test_apply_waits_for_the_analysis_subject_mask_and_guide_in_that_order():
    assert apply_wait(False, True, True, False, False) == "applying as soon as the analysis is done"
    assert apply_wait(True, True, True, False, False) == "applying as soon as the subject is found"
    assert apply_wait(True, False, True, False, False) == "applying as soon as the mask is here"
    assert apply_wait(True, False, False, False, False) == ""  # nothing selected: no wait helps
    assert "full-resolution export" in apply_wait(True, False, False, True, False)
    assert apply_wait(True, False, False, True, True) is None
    assert NOTHING_SELECTED.startswith("nothing selected")


# --- script steps ----------------------------------------------------------------------------------------------


def test_script_steps_call_the_handlers_and_wait_for_the_work_before_them():
    assert call(("point", (1.0, 2.0))) == ("add_point", (1.0, 2.0, True))
    assert call(("negative", (1.0, 2.0))) == ("add_point", (1.0, 2.0, False))
    assert call(("box", (1.0, 2.0, 3.0, 4.0))) == ("set_box", (1.0, 2.0, 3.0, 4.0))
    assert call(("negative_stroke", (1.0, 2.0, 3.0, 4.0))) == ("add_stroke", ([(1.0, 2.0), (3.0, 4.0)], False))
    assert call(("undo", ())) == ("undo", ())
    player = Player([("point", (1.0, 2.0)), ("hover", (3.0, 4.0)), ("apply", ())])
    assert player.next(ready=False, busy=False) == ("point", (1.0, 2.0))  # clicks are kept while analysing
    assert player.next(ready=False, busy=False) is None  # a hover step waits for the analysis
    assert player.next(ready=True, busy=True) is None  # and every step for the work before it
    assert player.next(ready=True, busy=False) == ("hover", (3.0, 4.0))
    assert player.next(ready=True, busy=False) == ("apply", ()) and player.done
    assert player.next(ready=True, busy=False) is None


# --- the session's decodes: explicit, off the calling thread, in order ---------------------------------------------


def tiny_session(tmp_path, family: str = "sam2") -> PickSession:
    pair = sam2_pair(tmp_path / "m") if family == "sam2" else segnext_pair(tmp_path / "m", False)
    model = Model.from_files(family, *pair, device="cpu", model_id=f"tiny-{family}",
                             cache=dtmask.model.EmbeddingCache(tmp_path / "cache"))
    session = PickSession(model, dtmask.from_array(np.full((300, 400, 3), 128, np.uint8)))
    session._encoding.wait(60)
    assert session.ready
    return session


def test_decodes_run_when_asked_in_order_and_a_quick_second_click_refines_the_first(tmp_path):
    session = tiny_session(tmp_path)
    assert not session.request_decode() and not session.decoding  # nothing selected: nothing to decode
    first = session.click(100, 100, True)
    assert session.result is None  # reading the mask never decodes
    assert session.request_decode() and session.request_decode() and session.decoding  # asked once
    second = session.click(300, 200, True)  # before the first mask is taken
    assert session.request_decode()
    taken = session.wait_decoded()
    assert [entry for entry, _ in taken] == [first, second] and not session.decoding
    assert session.result is second.result and len(session.decode_seconds) == 2
    # the second step was made before the first had a mask, and still refines it (the tiny decoder adds it)
    model, emb, prompts = session.model, session.embedding, second.selection.prompts()
    fed = model.decode(emb, prompts, previous=first.result)
    np.testing.assert_allclose(second.result.logits, fed.logits)
    assert not np.allclose(second.result.logits, model.decode(emb, prompts).logits)
    assert np.allclose(disc_centre(first.result.logits), (100 * 1024 / 400, 100 * 1024 / 400), atol=1.5)
    session.history.undo()
    assert not session.request_decode() and session.result is first.result  # undo reuses the decoded mask


def test_a_step_the_model_cannot_decode_comes_back_with_its_error(tmp_path):
    session = tiny_session(tmp_path, "segnext")
    entry = session.box(10, 10, 200, 200)
    assert session.request_decode()
    (taken, error), = session.wait_decoded()
    assert taken is entry and entry.result is None and isinstance(error, UsageError)
    assert "takes no box" in str(error) and session.decode_seconds == []
    with pytest.raises(UsageError, match="nothing is selected"):
        session.history.undo()
        session.finish()


# --- drawing only what changed ---------------------------------------------------------------------------------


def test_updating_the_picture_where_the_masks_changed_gives_the_full_composition():
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)
    backdrop = Backdrop(base)
    yy, xx = np.mgrid[:60, :90]

    def disc(x, y, r, hole=None):
        inside = np.hypot(xx - x, yy - y) < r
        if hole is not None:  # one pixel off: its outline reaches two pixels down and right of it
            inside[hole] = False
        return inside

    steps = [(None, None, "overlay"), (disc(20, 20, 9), None, "overlay"),
             (disc(20, 20, 9), disc(70, 40, 12), "overlay"), (disc(20, 20, 9), disc(70, 40, 12, (40, 70)), "overlay"),
             (disc(20, 20, 9), disc(69, 39, 11), "overlay"), (disc(22, 21, 9) | disc(70, 40, 12), None, "overlay"),
             (~disc(22, 21, 9), disc(0, 0, 5), "overlay"),
             (~disc(22, 21, 9), disc(0, 0, 5), "mask"), (disc(50, 30, 4), disc(52, 30, 4), "outline"),
             (disc(50, 30, 4), None, "original"), (disc(89, 59, 20), None, "overlay")]
    regions = []
    for inside, hover, view in steps:
        regions.append(backdrop.update(inside, view, hover))
        assert np.array_equal(backdrop.picture, backdrop.compose(inside, view, hover)), (view, len(regions))
    assert backdrop.update(steps[-1][0], "overlay") is None  # the same masks again: nothing to draw
    assert regions[0] == (0, 60, 0, 90) and regions[7] == (0, 60, 0, 90)  # the first picture, a new view
    y0, y1, x0, x1 = regions[2]  # the hover outline came: its disc grown by the outlines' reach
    assert (y0, y1, x0, x1) == (40 - 12 - REACH + 1, 40 + 12 + REACH, 70 - 12 - REACH + 1, 70 + 12 + REACH)
    hover_pixels = backdrop.compose(None, "overlay", disc(70, 40, 12)) == HOVER
    assert hover_pixels.all(axis=2).sum() > 50
