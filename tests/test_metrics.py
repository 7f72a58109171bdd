"""Quality metrics and the click robot on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from dtmask.bench import metrics, quality
from dtmask.imageio import from_array
from dtmask.refine import Refinement

pytest.importorskip("scipy")


def _rect(h: int = 60, w: int = 80, box=(10, 20, 50, 60)) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    y0, x0, y1, x1 = box
    mask[y0:y1, x0:x1] = True
    return mask


def test_iou_and_noc():
    truth = _rect()
    assert metrics.iou(truth, truth) == 1.0
    assert metrics.iou(np.zeros_like(truth), truth) == 0.0
    assert metrics.iou(np.zeros_like(truth), np.zeros_like(truth)) == 1.0
    assert metrics.noc([0.5, 0.86, 0.95], 0.85, 20) == 2
    assert metrics.noc([0.5, 0.6], 0.9, 20) == 20
    assert metrics.iou_at([0.5, 0.95], 5) == 0.95


def test_first_click_at_the_deepest_point_then_on_errors():
    truth = _rect()
    x, y, positive = metrics.next_click(np.zeros_like(truth), truth)
    assert positive and 37 <= x <= 41 and 27 <= y <= 31  # the middle of the 40 x 40 square
    pred = truth.copy()
    pred[0:8, 0:30] = True  # a false positive blob: the next click removes it
    x, y, positive = metrics.next_click(pred, truth, [(39, 29, True)])
    assert not positive and pred[y, x] and not truth[y, x]


def test_clicked_pixels_are_not_clicked_again():
    truth = np.zeros((5, 5), bool)
    truth[2, 2:4] = True
    empty = np.zeros_like(truth)
    assert metrics.next_click(empty, truth) == (2, 2, True)  # ties: the first pixel in row-major order
    assert metrics.next_click(empty, truth, [(2, 2, True)]) == (3, 2, True)


def test_boundary_f_tolerance():
    truth = _rect()
    assert metrics.boundary_f(truth, truth) == 1.0
    shifted = np.roll(truth, 2, axis=1)
    assert metrics.boundary_f(shifted, truth) == 1.0
    far = np.roll(truth, 6, axis=1)
    assert metrics.boundary_f(far, truth) < 0.6
    assert metrics.boundary_f(np.zeros_like(truth), truth) == 0.0


class _FakeResult:
    def __init__(self, mask: np.ndarray):
        self._mask = mask

    def mask(self, refine=None) -> np.ndarray:
        return self._mask.astype(np.float32)


class _FakeModel:
    """A predictor that always answers ``answer``: perfect (the truth) or empty."""

    id = "fake"

    def __init__(self, answer: np.ndarray):
        self.answer = answer
        self.calls = 0

    def encode(self, image):
        return image

    def decode(self, embedding, prompts, previous=None, refine=None):
        self.calls += 1
        return _FakeResult(self.answer)


def test_perfect_predictor_needs_one_click():
    truth = _rect()
    image = from_array(np.zeros(truth.shape + (3,), np.uint8))
    row = quality.evaluate(_FakeModel(truth), image, truth, Refinement.raw(), max_clicks=20)
    assert row.noc85 == row.noc90 == 1 and row.miou1 == row.miou5 == 1.0 and row.bf3 == 1.0
    assert row.ious == [1.0]  # nothing left to click on


def test_no_click_on_a_perfect_mask():
    truth = _rect()
    assert metrics.next_click(truth, truth) is None


def test_empty_predictor_fails(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    io = pytest.importorskip("skimage.io")
    truth = _rect()
    tifffile.imwrite(tmp_path / "a.tif", np.zeros(truth.shape + (3,), np.uint8), photometric="rgb")
    io.imsave(tmp_path / "a_gt.png", (truth * 255).astype(np.uint8), check_contrast=False)
    model = _FakeModel(np.zeros_like(truth))
    summary = quality.run(tmp_path, model, max_clicks=7)
    assert summary["nof90"] == 1 and summary["noc90"] == 7 and summary["miou5"] == 0.0
    assert model.calls == 2 * 7  # per click the live decode, then Apply's decode with every stage
    assert set(quality.SUMMARY_KEYS) <= set(summary) and summary["images"][0]["name"] == "a"
    assert "NoF@90 1 of 1" in quality.table(summary)


def test_a_folder_without_ground_truth_is_a_usage_error(tmp_path):
    from dtmask.errors import UsageError

    with pytest.raises(UsageError, match="NAME_gt.png"):
        quality.run(tmp_path, _FakeModel(np.zeros((2, 2), bool)))
