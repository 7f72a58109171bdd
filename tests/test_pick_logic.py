"""The picker's parts that need no window: history, viewport, canvas sampling, scripts, the missing-tkinter error."""

from __future__ import annotations

import json
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from dtmask.errors import DtmaskError, UsageError
from dtmask.geometry import display_size, orient_array
from dtmask.picker import require_tk
from dtmask.picker.render import Backdrop, mask_on_canvas, outline
from dtmask.picker.script import load_script
from dtmask.picker.state import History, Selection
from dtmask.picker.viewport import Viewport
from dtmask.refine import upsample_mask


def test_history_undo_redo_and_branching():
    h = History()
    h.click((1.0, 2.0), True)
    h.current.result = "first"
    h.click((3.0, 4.0), False)
    assert h.current.basis == "first"  # each step refines the mask it was made on
    h.current.result = "second"
    assert h.selection == Selection(points=((1.0, 2.0),), negatives=((3.0, 4.0),))
    assert h.undo() and h.selection.negatives == ()
    assert h.redo() and h.current.result == "second"  # redo restores the decoded mask, no decoding again
    assert not h.redo()
    h.undo()
    h.set_box((0, 0, 5, 5))  # a new step drops what was undone
    assert not h.redo() and h.selection.box == (0, 0, 5, 5) and h.selection.points == ((1.0, 2.0),)


def test_invert_keeps_the_mask_and_reset_is_undoable():
    h = History()
    h.click((1.0, 1.0), True)
    h.current.result = "mask"
    h.invert()
    assert h.selection.invert and h.current.result == "mask"
    h.reset()
    assert h.selection.empty and not h.selection.has_foreground
    assert h.undo() and h.selection.invert
    assert not Selection(negatives=((1.0, 1.0),)).has_foreground  # minus clicks alone select nothing


def test_strokes_are_undoable_steps_and_prompts():
    h = History()
    h.stroke(((1.0, 2.0), (5.0, 6.0)), True)
    assert h.selection.has_foreground and not h.selection.empty
    h.stroke(((9.0, 9.0),), False)
    prompts = h.selection.prompts()
    assert prompts.strokes == [[(1.0, 2.0), (5.0, 6.0)]] and prompts.negative_strokes == [[(9.0, 9.0)]]
    assert prompts.as_json()["negative_strokes"] == [[[9.0, 9.0]]]
    assert h.undo() and h.selection.negative_strokes == ()
    assert not Selection(negative_strokes=(((1.0, 1.0),),)).has_foreground
    h.current.result = "mask"
    proposed = h.propose(Selection(points=((3.0, 3.0),), box=(0, 0, 9, 9)))
    assert proposed.basis is None and h.selection.strokes == ()  # a proposal starts afresh, and is undoable
    assert h.undo() and h.selection.strokes == (((1.0, 2.0), (5.0, 6.0)),)


def test_hover_decodes_only_the_latest_rested_point_one_at_a_time():
    from dtmask.picker.session import Hover

    running, seen, gate = [], [], threading.Event()

    def decode(point):
        running.append(point)
        assert len(running) == 1  # never two at once
        gate.wait(5)
        seen.append(point)
        running.pop()
        return SimpleNamespace(seconds=0.01)

    hover = Hover(decode, rest=0.02)
    hover.want((1.0, 1.0))
    hover.want((2.0, 2.0))  # before the rest is over: (1, 1) is never decoded
    deadline = time.monotonic() + 5
    while not hover.running and time.monotonic() < deadline:
        time.sleep(0.005)
    hover.want((3.0, 3.0))
    hover.want((4.0, 4.0))  # while (2, 2) decodes: only the latest waits
    gate.set()
    while hover.pending and time.monotonic() < deadline:
        if hover.take() is None:
            time.sleep(0.005)
    assert seen == [(2.0, 2.0), (4.0, 4.0)] and hover.answer((4.0, 4.0)) is not None
    hover.want((5.0, 5.0))
    hover.drop()  # a click came: the pending point never starts
    time.sleep(0.05)
    assert seen == [(2.0, 2.0), (4.0, 4.0)] and not hover.pending
    hover.close()


def test_viewport_maps_both_ways_and_zooms_around_the_pointer():
    vp = Viewport(800, 600, 6000, 4000)
    vp.fit()
    assert vp.scale == pytest.approx(800 / 6000)
    for cx, cy in ((0, 0), (399.5, 300), (799, 599)):
        assert vp.to_canvas(*vp.to_image(cx, cy)) == pytest.approx((cx, cy))
    u, v = vp.to_image(100, 150)
    vp.zoom_at(100, 150, 4.0)
    assert vp.to_image(100, 150) == pytest.approx((u, v))
    vp.zoom_at(100, 150, 1000.0)
    assert vp.scale == 16.0  # deepest zoom
    vp.pan(1e6, 1e6)  # the image never leaves the canvas
    assert (vp.left, vp.top) == (0.0, 0.0)
    c0, r0, xs, ys = vp.visible()
    assert (c0, r0, xs.size, ys.size) == (0, 0, 800, 600)


def test_fitted_small_image_is_centred_on_whole_pixels():
    vp = Viewport(1093, 600, 900, 600)
    vp.fit()
    assert vp.scale == 1.0 and vp.to_image(348, 200) == (252.0, 200.0)
    c0, r0, xs, ys = vp.visible()
    assert (c0, r0, xs.size, ys.size) == (96, 0, 900, 600)


@pytest.mark.parametrize("width,height", [(300, 200), (171, 333)])
def test_canvas_mask_is_exactly_the_written_mask_in_every_orientation(width, height):
    noise = np.random.default_rng(1).normal(0, 1, (256, 256)).astype(np.float32)
    blob = np.full((256, 256), -3.0, np.float32)  # positive in a corner-to-middle patch only: sampled just there
    blob[150:200, 90:140] = noise[150:200, 90:140] + 1
    for logits in (noise, blob, np.full((256, 256), -1.0, np.float32)):
        written = upsample_mask(logits, width, height) > 0.5
        for n in range(1, 9):
            w, h = display_size(width, height, n)
            shown = mask_on_canvas(logits, np.arange(w) + 0.5, np.arange(h) + 0.5, n, width, height)
            assert np.array_equal(shown, orient_array(written, n)), n


def test_views_compose_the_overlay_mask_outline_and_original():
    base = np.full((20, 30, 3), 100, np.uint8)
    inside = np.zeros((20, 30), bool)
    inside[5:15, 10:20] = True
    backdrop = Backdrop(base)
    overlay = backdrop.compose(inside, "overlay")
    assert (overlay[10, 15] != base[10, 15]).any() and (overlay[0, 0] == base[0, 0]).all()
    assert outline(inside).sum() == 36  # the 10 x 10 square's border
    assert set(np.unique(backdrop.compose(inside, "mask"))) == {0, 255}
    assert backdrop.compose(inside, "original") is base
    assert backdrop.compose(None, "overlay") is base


def test_script_steps_are_checked_and_end_with_apply(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps([{"point": [1, 2]}, {"box": [0, 0, 5.5, 6]}, {"undo": True}]))
    assert load_script(path) == [("point", (1.0, 2.0)), ("box", (0.0, 0.0, 5.5, 6.0)), ("undo", ()),
                                 ("apply", ())]
    for bad, message in [({"point": [1]}, "list of 2 numbers"), ({"jump": [1, 2]}, "unknown action"),
                         ({"undo": 1}, '{"undo": true}'), ([1, 2], "one object")]:
        path.write_text(json.dumps([bad]))
        with pytest.raises(UsageError, match="step 1"):
            load_script(path)
    path.write_text(json.dumps([{"stroke": [[1, 2], [3, 4.5]]}, {"negative_stroke": [[5, 6]]}, {"hover": [7, 8]},
                                {"subject": True}]))
    assert load_script(path)[:4] == [("stroke", (1.0, 2.0, 3.0, 4.5)), ("negative_stroke", (5.0, 6.0)),
                                     ("hover", (7.0, 8.0)), ("subject", ())]
    for bad in ({"stroke": []}, {"stroke": [[1, 2, 3]]}, {"negative_stroke": [1, 2]}):
        path.write_text(json.dumps([bad]))
        with pytest.raises(UsageError, match="list of \\[u, v\\] points"):
            load_script(path)
    path.write_text(json.dumps([{"cancel": True}, {"point": [1, 2]}]))
    with pytest.raises(UsageError, match="must be the last step"):
        load_script(path)
    path.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_script(path)


def test_without_tkinter_the_error_names_the_package_and_the_fallback(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "tkinter", None)  # import tkinter now raises ImportError
    with pytest.raises(DtmaskError, match="python3-tk.*dtmask segment"):
        require_tk()
    from dtmask.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["pick", str(tmp_path / "photo.tif"), "-o", str(tmp_path / "mask.pfm")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "python3-tk" in err and "dtmask segment" in err
