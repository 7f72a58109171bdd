"""Saved prompts (dtmask.promptfile) and `dtmask segment --prompts / --save-prompts`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from dtmask import promptfile
from dtmask.errors import UsageError
from dtmask.geometry import ORIENTATIONS, file_to_display
from dtmask.imageio import read_mask
from dtmask.model import Prompts
from conftest import run_dtmask
from scenes import iou, two_objects


@pytest.mark.parametrize("n", ORIENTATIONS)
def test_saved_prompts_land_on_a_turned_scaled_picture_of_their_frame(n):
    saved = promptfile.SavedPrompts(Prompts(points=[(30.0, 10.0)], box=(20.0, 5.0, 60.0, 15.0)), 80, 40, n)
    w, h = (20, 40) if n >= 5 else (40, 20)  # half the size, turned
    moved = saved.in_frame(w, h, n)
    u, v = file_to_display(30.0, 10.0, n, 80, 40)
    assert np.allclose(moved.points, [(u / 2, v / 2)])
    corners = [file_to_display(x, y, n, 80, 40) for x, y in ((20, 5), (60, 15))]
    xs, ys = [c[0] / 2 for c in corners], [c[1] / 2 for c in corners]
    assert np.allclose(moved.box, (min(xs), min(ys), max(xs), max(ys)))


def test_load_refuses_what_is_not_a_prompts_file(tmp_path):
    bad = tmp_path / "bad.json"
    for text in ("[]", '{"width": 3, "height": 2}', '{"width": 0, "height": 2, "prompts": {}}',
                 '{"width": 3, "height": 2, "prompts": {"points": [[1]]}}', "not json"):
        bad.write_text(text)
        with pytest.raises(UsageError, match="not a dtmask prompts file"):
            promptfile.load(bad)
    with pytest.raises(UsageError, match="cannot read"):
        promptfile.load(tmp_path / "missing.json")


def run(*args):
    return run_dtmask("segment", *args)


def test_segment_saves_its_prompts_and_starts_from_them_with_more_on_top(with_model, tmp_path):
    scene = two_objects(640, 400, seed=5)
    photo = tmp_path / "photo.tif"
    tifffile.imwrite(photo, scene.image)
    x, y = scene.centres["disc"]
    first, mask = tmp_path / "first.json", tmp_path / "m.pfm"
    assert run(photo, "-p", f"{x},{y}", "-o", mask, "--save-prompts", first).returncode == 0
    saved = json.loads(first.read_text())
    assert (saved["width"], saved["height"], saved["orientation"]) == (640, 400, 1)
    assert saved["prompts"]["points"] == [[x, y]]
    bx, by = scene.centres["box"]
    proc = run(photo, "--prompts", first, "-n", f"{bx},{by}", "-o", mask, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["prompts"]["points"] == [[x, y]] and data["prompts"]["negatives"] == [[bx, by]]
    assert iou(read_mask(mask) > 0.5, scene.masks["disc"]) > 0.9
    # a --json answer is a prompts file too; a half-size copy of the photo gets them scaled
    (tmp_path / "answer.json").write_text(proc.stdout)
    tifffile.imwrite(tmp_path / "small.tif", scene.image[::2, ::2])
    proc = run(tmp_path / "small.tif", "--prompts", tmp_path / "answer.json", "-o", mask, "--json")
    assert json.loads(proc.stdout)["prompts"]["points"] == [[x / 2, y / 2]]
    proc = run(photo, "-p", f"{x},{y}", "-o", mask, "--save-prompts", photo)
    assert proc.returncode == 2 and "never over the photo" in proc.stderr
