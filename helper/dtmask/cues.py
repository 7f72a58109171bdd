"""Cues on a mask's decoder-grid cells, shared by the first-click choice (:mod:`dtmask.model`) and the subject
ranking (:mod:`dtmask.subject`). Each reads only the decoder's low-res grid (at most 256 x 256 cells), so a
click pays well under a millisecond for them.
"""

from __future__ import annotations

import numpy as np

STABILITY_OFFSET = 1.0  # logits, as segment-anything


def stability(logits: np.ndarray, offset: float = STABILITY_OFFSET) -> float:
    """segment-anything's stability score: IoU of the mask at logit +offset and at -offset."""
    union = int(np.count_nonzero(logits > -offset))
    return float(np.count_nonzero(logits > offset) / union) if union else 0.0


def sides(mask: np.ndarray) -> dict[str, float]:
    """The fraction of each side of the frame (a bool grid cropped to the image) that the mask runs along."""
    return {"top": float(mask[0].mean()), "bottom": float(mask[-1].mean()),
            "left": float(mask[:, 0].mean()), "right": float(mask[:, -1].mean())}


def held(part: np.ndarray, whole: np.ndarray) -> float:
    """The fraction of ``part``'s cells that lie inside ``whole`` (1 for an empty part)."""
    n = np.count_nonzero(part)
    return float(np.count_nonzero(part & whole) / n) if n else 1.0
