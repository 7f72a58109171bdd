"""The stroke robot of ``dtmask bench quality --prompt stroke``: a brush stroke along the object's medial axis.

It stands for what a user draws instead of a first click: a line through the middle of the object, along its
length, kept away from the edges. The stroke is the longest path (two breadth-first searches) through the part of
the object's skeleton that lies at least ``KEEP`` of the object's greatest depth inside it and is connected to
the skeleton's deepest pixel, found on a copy of the mask reduced to at most ``LONGEST`` pixels a side (a stroke
needs no finer detail).
"""

from __future__ import annotations

from collections import deque

import numpy as np

LONGEST = 512
KEEP = 0.25


def medial_stroke(truth: np.ndarray) -> list[tuple[float, float]]:
    """File-frame (x, y) points of a stroke along the medial axis of a bool mask (one point for a tiny object)."""
    from scipy import ndimage
    from skimage.morphology import skeletonize

    rows, cols = np.nonzero(truth.any(axis=1))[0], np.nonzero(truth.any(axis=0))[0]
    if not rows.size:
        raise ValueError("the ground truth is empty")
    y0, x0 = int(rows[0]), int(cols[0])
    sub = truth[y0:rows[-1] + 1, x0:cols[-1] + 1]
    step = max(1, -(-max(sub.shape) // LONGEST))
    small = sub[::step, ::step]
    if not small.any():  # thinner than the step: fall back to the full-resolution crop
        small, step = sub, 1
    depth = ndimage.distance_transform_edt(np.pad(small, 1))[1:-1, 1:-1]
    skeleton = skeletonize(small) & (depth >= KEEP * depth.max())
    if not skeleton.any():
        skeleton[np.unravel_index(int(np.argmax(depth)), depth.shape)] = True
    deepest = np.unravel_index(int(np.argmax(np.where(skeleton, depth, -1.0))), depth.shape)  # on the skeleton
    labels, _ = ndimage.label(skeleton, structure=np.ones((3, 3)))
    component = labels == labels[deepest]
    first = _farthest(component, deepest)[0]
    last, parents = _farthest(component, first)
    path = [last]
    while path[-1] != first:
        path.append(parents[path[-1]])
    return [(float(x0 + c * step), float(y0 + r * step)) for r, c in path]


def _farthest(mask: np.ndarray, start: tuple[int, int]):
    """The pixel of ``mask`` farthest (in 8-connected steps) from ``start``, and the BFS parent links."""
    h, w = mask.shape
    parents = {start: start}
    queue = deque([start])
    last = start
    while queue:
        last = queue.popleft()
        r, c = last
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                n = (r + dr, c + dc)
                if 0 <= n[0] < h and 0 <= n[1] < w and mask[n] and n not in parents:
                    parents[n] = last
                    queue.append(n)
    return last, parents
