"""Interactive segmentation metrics and the standard click robot (RITM's; docs/benchmarks.md, "click protocol").

Full-resolution distance transforms are costly on a 24 MP frame, so each one runs on the bounding box of the
pixels it concerns plus a margin; the results are the same as on the whole frame.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Click = tuple[int, int, bool]  # x, y, positive


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two bool masks (1.0 when both are empty)."""
    union = np.count_nonzero(pred | truth)
    return float(np.count_nonzero(pred & truth) / union) if union else 1.0


def _bbox(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if not rows.size:
        return None
    h, w = mask.shape
    return (slice(max(0, rows[0] - pad), min(h, rows[-1] + pad + 1)),
            slice(max(0, cols[0] - pad), min(w, cols[-1] + pad + 1)))


def _inner_distance(region: np.ndarray) -> np.ndarray:
    """Distance of each pixel of ``region`` to the nearest pixel outside it, the frame edge counting as outside."""
    from scipy import ndimage

    return ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]


def next_click(pred: np.ndarray, truth: np.ndarray, clicked: Sequence[Click] = ()) -> Click | None:
    """The robot's next click: the error pixel farthest from the error region's boundary (None: no error left).

    False negatives and false positives are distance-transformed (padded by one pixel, clicked pixels
    excluded); the click goes to the farthest point of the two, positive when it lies in the false negatives.
    Ties go to the first pixel in row-major order, like RITM.
    """
    best: tuple[float, int, int, bool] = (0.0, 0, 0, True)
    for region, positive in ((truth & ~pred, True), (pred & ~truth, False)):
        box = _bbox(region, 1)
        if box is None:
            continue
        dist = _inner_distance(region[box])
        for x, y, _ in clicked:
            yy, xx = y - box[0].start, x - box[1].start
            if 0 <= yy < dist.shape[0] and 0 <= xx < dist.shape[1]:
                dist[yy, xx] = 0
        k = int(np.argmax(dist))
        value = float(dist.flat[k])
        if value > best[0]:
            y, x = divmod(k, dist.shape[1])
            best = (value, x + box[1].start, y + box[0].start, positive)
    value, x, y, positive = best
    return (x, y, positive) if value > 0 else None


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of the mask with a 4-neighbour outside it (the frame edge does not count)."""
    padded = np.pad(mask, 1, mode="edge")
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def boundary_f(pred: np.ndarray, truth: np.ndarray, tolerance: float = 2.0) -> float:
    """Boundary F-score: precision and recall of boundary pixels matched within ``tolerance`` pixels."""
    from scipy import ndimage

    both = _boundary(pred) | _boundary(truth)
    box = _bbox(both, int(np.ceil(tolerance)) + 1)
    if box is None:
        return 1.0
    bp, bt = _boundary(pred[box]), _boundary(truth[box])
    if not bp.any() or not bt.any():
        return 0.0
    near_t = ndimage.distance_transform_edt(~bt) <= tolerance
    near_p = ndimage.distance_transform_edt(~bp) <= tolerance
    precision = np.count_nonzero(bp & near_t) / np.count_nonzero(bp)
    recall = np.count_nonzero(bt & near_p) / np.count_nonzero(bt)
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def alpha_error(pred: np.ndarray, alpha: np.ndarray, grow: int = 2) -> float:
    """Mean absolute error of a soft mask against an exact alpha over the soft band: the pixels where the alpha is
    neither 0 nor 1 (within 1/256), grown by ``grow`` pixels so that a mask that stops short of a strand counts."""
    from scipy import ndimage

    soft = (alpha > 1 / 256) & (alpha < 1 - 1 / 256)
    box = _bbox(soft, grow)
    if box is None:
        return 0.0
    band = ndimage.binary_dilation(soft[box], iterations=grow)
    return float(np.abs(pred[box][band].astype(np.float32) - alpha[box][band]).mean())


def noc(ious: Sequence[float], threshold: float, max_clicks: int) -> int:
    """Clicks needed to reach ``threshold`` IoU (``max_clicks`` when never reached)."""
    for k, value in enumerate(ious[:max_clicks], start=1):
        if value >= threshold:
            return k
    return max_clicks


def iou_at(ious: Sequence[float], k: int) -> float:
    """IoU after k clicks; a run that stopped early (target reached) keeps its last value."""
    return float(ious[min(k, len(ious)) - 1])
