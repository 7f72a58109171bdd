"""Connected parts of a bool mask as horizontal runs of pixels, labelled by a vectorised union-find: what the
components and holes stages and the matte count, find and paint, with no per-pixel label image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..geometry import STRIP_ROWS, Point


@dataclass
class Runs:
    """Horizontal runs of True pixels (row, start, end exclusive), in row-major order, with component labels."""

    rows: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    labels: np.ndarray
    width: int

    @classmethod
    def of(cls, mask: np.ndarray) -> "Runs":
        """Label the 8-connected components of a bool mask: runs joined by a vectorised union-find."""
        h, w = mask.shape
        parts = []
        for r0 in range(0, h, STRIP_ROWS):
            rows, starts, ends = row_runs(mask[r0:r0 + STRIP_ROWS])
            parts.append((rows + r0, starts, ends))
        rows, starts, ends = (np.concatenate(x).astype(np.int64) for x in zip(*parts))
        return cls(rows, starts, ends, union_runs(rows, starts, ends, w), w)

    def without(self, labels: np.ndarray) -> "Runs":
        """These runs with the given components' runs taken out (labels stay as they were)."""
        keep = ~np.isin(self.labels, labels)
        return Runs(self.rows[keep], self.starts[keep], self.ends[keep], self.labels[keep], self.width)

    def gaps(self, height: int) -> "Runs":
        """The runs of the complement over ``height`` rows (the False pixels), labelled: no second pass over
        the pixels. Each run's gap ends where it starts; each row's last gap ends at the width."""
        first, last = np.ones(len(self.rows), bool), np.ones(len(self.rows), bool)  # a row's first and last runs
        first[1:] = last[:-1] = self.rows[1:] != self.rows[:-1]
        before = np.where(first, 0, np.r_[0, self.ends[:-1]])
        empty = np.setdiff1d(np.arange(height), self.rows)
        rows = np.concatenate([self.rows, self.rows[last], empty])
        starts = np.concatenate([before, self.ends[last], np.zeros_like(empty)])
        ends = np.concatenate([self.starts, np.full(int(last.sum()), self.width), np.full(len(empty), self.width)])
        kept = starts < ends
        rows, starts, ends = rows[kept], starts[kept], ends[kept]
        order = np.argsort(rows * (self.width + 1) + starts, kind="stable")
        rows, starts, ends = rows[order], starts[order], ends[order]
        return Runs(rows, starts, ends, union_runs(rows, starts, ends, self.width), self.width)

    def count(self) -> int:
        return int((self.ends - self.starts).sum())

    def find(self, points: Sequence[Point]) -> np.ndarray:
        """Labels of the components under the given (x, y) points (points off the mask are skipped)."""
        if not len(points) or not len(self.rows):
            return np.zeros(0, np.int64)
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2).astype(np.int64)
        key = self.rows * (self.width + 1) + self.starts
        idx = np.searchsorted(key, pts[:, 1] * (self.width + 1) + pts[:, 0], side="right") - 1
        idx = np.clip(idx, 0, len(key) - 1)
        hit = (self.rows[idx] == pts[:, 1]) & (self.starts[idx] <= pts[:, 0]) & (pts[:, 0] < self.ends[idx])
        return np.unique(self.labels[idx[hit]])

    def areas(self) -> np.ndarray:
        return np.bincount(self.labels, weights=self.ends - self.starts, minlength=len(self.rows))

    def touching_border(self, height: int) -> np.ndarray:
        """Labels of components that reach the image border."""
        edge = (self.rows == 0) | (self.rows == height - 1) | (self.starts == 0) | (self.ends == self.width)
        return np.unique(self.labels[edge])

    def paint(self, target: np.ndarray, labels: np.ndarray, value: float | bool) -> None:
        """Set the pixels of the given components to ``value``."""
        sel = np.isin(self.labels, labels)
        rows, starts, lengths = self.rows[sel], self.starts[sel], (self.ends - self.starts)[sel]
        if not lengths.sum():
            return
        cols = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
        target[np.repeat(rows, lengths), cols] = value  # 2-D indices: ``target`` may be a view


def row_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of True pixels of a bool mask: rows, starts, ends (exclusive), in row-major order."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), bool)
    padded[:, 1:-1] = mask
    # where the value changes, in row-major order: every row opens and closes its runs in turn, as it starts and
    # ends False (one bool comparison, not an int8 diff tested twice: docs/benchmarks.md)
    rows, cols = np.nonzero(padded[:, 1:] != padded[:, :-1])
    return rows[0::2], cols[0::2], cols[1::2]


def union_runs(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """Component label (the smallest run index) of each run; runs in adjacent rows that touch are joined."""
    n = len(rows)
    if n == 0:
        return np.zeros(0, np.int64)
    k = width + 2
    start_key, end_key = rows * k + starts, rows * k + ends
    # run j of the next row touches run i (8-connected) when start_j <= end_i and end_j >= start_i
    lo = np.searchsorted(end_key, (rows + 1) * k + starts, side="left")
    hi = np.searchsorted(start_key, (rows + 1) * k + ends, side="right")
    count = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(n), count)
    b = np.repeat(lo - np.concatenate([[0], np.cumsum(count)[:-1]]), count) + np.arange(count.sum())
    parent = np.arange(n)
    while True:
        ra, rb = parent[a], parent[b]
        if np.array_equal(ra, rb):
            return parent
        low = np.minimum(ra, rb)
        np.minimum.at(parent, ra, low)
        np.minimum.at(parent, rb, low)
        while True:  # pointer jumping: every run points at its root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def joined_to(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The 8-connected parts of a bool mask that touch ``seeds`` (a bool array of the same shape)."""
    runs = Runs.of(mask)
    counts = np.zeros((mask.shape[0], mask.shape[1] + 1), np.int64)
    np.cumsum(seeds, axis=1, out=counts[:, 1:])
    touching = counts[runs.rows, runs.ends] > counts[runs.rows, runs.starts]
    out = np.zeros(mask.shape, bool)
    runs.paint(out, np.unique(runs.labels[touching]), True)
    return out
