"""The mask cues shared by the first-click choice and the subject ranking (dtmask.cues)."""

import numpy as np
import pytest

from dtmask.cues import held, sides, stability


def test_stability_score():
    logits = np.full((10, 10), -5.0)
    logits[2:8, 2:8] = 5.0
    assert stability(logits) == 1.0
    logits[2:8, 2:8] = 0.5  # inside, but hardly above the threshold: unstable
    assert stability(logits) == 0.0
    logits[2:5, 2:8] = 5.0
    assert stability(logits) == pytest.approx(0.5)


def test_sides_are_the_fractions_of_each_frame_side_a_mask_runs_along():
    mask = np.zeros((4, 8), bool)
    mask[1:3, 2:5] = True
    assert sides(mask) == {"top": 0.0, "bottom": 0.0, "left": 0.0, "right": 0.0}
    mask[3, :2] = True  # a quarter of the bottom row, and the bottom cell of the left column
    assert sides(mask) == {"top": 0.0, "bottom": 0.25, "left": 0.25, "right": 0.0}


def test_held_is_the_share_of_a_part_inside_a_whole():
    whole = np.zeros((6, 6), bool)
    whole[1:5, 1:5] = True
    part = np.zeros_like(whole)
    part[0:2, 1:5] = True  # half of its eight cells lie in the whole
    assert held(part, whole) == 0.5
    assert held(whole, whole) == 1.0
    assert held(np.zeros_like(whole), whole) == 1.0
