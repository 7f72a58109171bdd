"""One-click subject: the photo's main object with no clicks (``dtmask segment --subject``, ``dtmask batch``).

No second model. Proposals come from the SAM model already installed, each is scored for being the subject,
and the winner is turned into SAM prompts (its box and its deepest point), so the final mask is an ordinary
decode with the decoder's edges and the usual refinement (zoom on small subjects included).

Proposals:

- ``regions``: a boundary-prior colour saliency map (the frame's sides stand for the background) is thresholded
  into a few regions; each region's box and deepest point are decoded (2-6 decodes);
- ``grid``: when no region proposal is convincing (saliency below ``CONFIDENT``), the automatic mask generator
  (:mod:`dtmask.auto`) adds its proposals from a point grid, centre first, at most ``GRID_DECODES`` decodes.

Cues, each computed on the decoder's 256 x 256 grid (cheap):

- ``frame``: photographers keep the subject inside the frame; a proposal that runs along an edge is background.
  Touching the bottom edge costs less (people and objects standing on the lower edge).
- ``centre``: distance of the proposal's centroid from the frame's centre.
- ``size``: a subject is neither a speck nor most of the frame.
- ``contrast``: colour difference between the proposal and a ring of pixels around it.
- ``salient``: mean of the colour saliency map inside the proposal minus outside.
- ``quality``: the decoder's own predicted IoU and the mask's stability.

The winner is then grown to the whole object (:func:`grown`): a proposal is often the most salient part (a face,
a garment), and the decoder's ambiguity masks for its deepest point run from a part to the whole; the largest of
them that holds most of the winner, is not the frame, is predicted good and stable and still scores as a subject
replaces it. A subject that fills the frame (a cat's face and body) scores low for running along the frame's
sides; its whole replaces the part when the part is uncertain and the whole, holding it, is confident and is not
the ground along the lower edge.

Weights were set by hand and checked on generated scenes with a known subject (tests/subject_bench.py); the
regions + grid combination and ``CONFIDENT`` were chosen by measurement there and on ``dtmask bench make-set``
photos (docs/benchmarks.md, "Subject").
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import auto
from .cues import held, sides, stability
from .errors import DtmaskError, UsageError
from .geometry import block_mean, cell_size, lowres_shape
from .model import Embedding, Model, Prompts, Result
from .refine import Refinement

# proposals for the subject: softer filters than --all (the saliency score weighs quality itself)
GRID = 12
GRID_DECODES = 40  # at most this many decoder calls for the grid's proposals
METHOD = "both"  # proposals from "regions" of the colour saliency map, the "grid" generator, or "both"
CONFIDENT = 2.5  # "both": a region proposal scoring this much is the subject; the grid runs only below it
MIN_SCORE = 0.6
MIN_STABILITY = 0.7
RING_CELLS = 4  # width of the ring around a proposal for its contrast, in decoder cells
# growing the winner to the whole object (grown): a larger ambiguity mask must be this many times its size, hold
# this much of it, be predicted this good and this stable, cover less of the frame than this, and lose at most
# this much saliency
GROW_FACTOR, GROW_COVER, GROW_SCORE, GROW_STABILITY, GROW_AREA, GROW_DROP = 1.5, 0.6, 0.85, 0.75, 0.8, 1.5
# a frame-filling whole (a cat's face and body) scores low as a subject (it runs along the frame, it is large):
# it still replaces an uncertain part (stability below GROW_STABILITY) when it holds GROW_HOLD of it, its quality
# (score + stability) is GROW_GAIN above the part's and it does not run along the lower edge (the ground)
GROW_HOLD, GROW_GAIN, GROW_GROUND = 0.95, 0.2, 0.5


@dataclass(frozen=True)
class Weights:
    quality: float = 1.0
    frame: float = 3.0  # per unit of frame-edge fraction touched (sides other than the bottom)
    bottom: float = 1.0  # the same for the bottom edge
    centre: float = 1.5  # per unit of centroid distance from the centre (1 = a corner)
    size: float = 1.0  # per unit of |log(area / ideal)|
    ideal_area: float = 0.15  # fraction of the frame
    contrast: float = 1.5  # per unit of colour distance (0..1 scale, about 0.5 for black on white)
    salient: float = 3.0  # per unit of mean colour saliency inside minus outside (0..1 map)


WEIGHTS = Weights()


@dataclass
class Candidate:
    proposal: auto.AutoMask
    saliency: float
    cues: dict[str, float]

    def as_json(self) -> dict:
        return {**self.proposal.as_json(), "saliency": round(self.saliency, 4),
                "cues": {k: round(v, 4) for k, v in self.cues.items()}}


@dataclass
class Subject:
    """The subject found in an image: the final prompts and decode, and the ranked proposals behind them."""

    prompts: Prompts
    result: Result
    candidates: list[Candidate]  # best first
    decodes: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def chosen(self) -> Candidate:
        return self.candidates[0]


def thumbnail(embedding: Embedding, rows: int, cols: int) -> np.ndarray:
    """The photo on the decoder grid: float32 (rows, cols, 3) in 0..1, one sample per decoder cell."""
    small = embedding.image.model_frame / 255.0  # made once: the encoder's picture when it was not cached
    # area-average 4 x 4 blocks down to the grid (the model frame is 4 pixels a cell: the letterbox geometry is exact)
    h, w = small.shape[:2]
    pad = np.zeros((rows * 4, cols * 4, 3), np.float32)
    pad[:min(h, rows * 4), :min(w, cols * 4)] = small[:rows * 4, :cols * 4]
    return block_mean(pad, 4)


def dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def deepest_cell(mask: np.ndarray) -> tuple[int, int]:
    """(row, col) of a cell farthest from the mask's boundary (the last to survive repeated erosion)."""
    current = mask.copy()
    while True:
        eroded = current.copy()
        eroded[0, :] = eroded[-1, :] = False
        eroded[:, 0] = eroded[:, -1] = False
        eroded[1:] &= current[:-1]
        eroded[:-1] &= current[1:]
        eroded[:, 1:] &= current[:, :-1]
        eroded[:, :-1] &= current[:, 1:]
        if not eroded.any():
            break
        current = eroded
    rows, cols = np.nonzero(current)
    centre_r, centre_c = rows.mean(), cols.mean()
    i = int(np.argmin((rows - centre_r) ** 2 + (cols - centre_c) ** 2))
    return int(rows[i]), int(cols[i])


def cues(proposal: auto.AutoMask, thumb: np.ndarray, sal: np.ndarray) -> dict[str, float]:
    """The saliency cues of a proposal (see the module's docstring)."""
    m = proposal.lowres
    rows, cols = m.shape
    area = m.mean()
    frame = sides(m)
    ys, xs = np.nonzero(m)
    cy, cx = (ys.mean() + 0.5) / rows - 0.5, (xs.mean() + 0.5) / cols - 0.5
    ring = dilate(m, RING_CELLS) & ~m
    if ring.any():
        contrast = float(np.linalg.norm(thumb[m].mean(axis=0) - thumb[ring].mean(axis=0)))
    else:
        contrast = 0.0
    r, c = sal.shape
    k = SALIENCY_CELLS
    share = block_mean(m[:r * k, :c * k, None], k)[:, :, 0]  # the mask's share of each map block
    inside = float((sal * share).sum() / max(share.sum(), 1e-6))
    outside = float((sal * (1 - share)).sum() / max((1 - share).sum(), 1e-6))
    return {"area": float(area), "edges": frame["top"] + frame["left"] + frame["right"], "bottom": frame["bottom"],
            "salient": inside - outside, "region": float(proposal.source == "region"),
            "centre": float(math.hypot(cx, cy) / math.hypot(0.5, 0.5)), "contrast": contrast,
            "score": proposal.score, "stability": proposal.stability}


def saliency(c: dict[str, float], w: Weights = WEIGHTS) -> float:
    quality = min(c["score"], 1.0) + c["stability"]
    return (w.quality * quality - w.frame * c["edges"] - w.bottom * c["bottom"] - w.centre * c["centre"]
            - w.size * abs(math.log(max(c["area"], 1e-6) / w.ideal_area)) + w.contrast * c["contrast"]
            + w.salient * c["salient"])


def rank(proposals: list[auto.AutoMask], thumb: np.ndarray, sal: np.ndarray,
         weights: Weights = WEIGHTS) -> list[Candidate]:
    """Proposals scored for saliency, best first."""
    out = []
    for p in proposals:
        c = cues(p, thumb, sal)
        out.append(Candidate(p, saliency(c, weights), c))
    out.sort(key=lambda c: c.saliency, reverse=True)
    return out


def prompts_for(proposal: auto.AutoMask, width: int, height: int) -> Prompts:
    """SAM prompts that select a proposal again with the decoder's edges: its box (plus a cell) and deepest point."""
    size = cell_size(width, height)
    r, k = deepest_cell(proposal.lowres)
    point = (min(width - 1.0, (k + 0.5) * size), min(height - 1.0, (r + 0.5) * size))
    x0, y0, x1, y1 = proposal.bbox
    box = (max(0.0, x0 - size), max(0.0, y0 - size), min(float(width), x1 + size), min(float(height), y1 + size))
    return Prompts(points=[point], box=box)


def grown(model: Model, embedding: Embedding, winner: Candidate, thumb: np.ndarray, sal: np.ndarray,
          weights: Weights = WEIGHTS) -> auto.AutoMask:
    """The whole object the winning proposal is part of, or the proposal itself.

    The decoder's ambiguity masks for the proposal's deepest point run from a part to the whole. The largest
    that is at least GROW_FACTOR times the proposal (a whole, not the same part redrawn), holds GROW_COVER of it,
    is predicted good and stable, is not most of the frame, and still scores as a subject (its saliency at most
    GROW_DROP below the proposal's: the part plus the ground it stands on is no subject, unless the proposal is
    an uncertain part of a confident whole: :func:`_whole_of`) replaces it.
    """
    width, height = embedding.width, embedding.height
    rows, cols = lowres_shape(width, height)
    part = winner.proposal
    point = prompts_for(part, width, height).points[0]
    size = cell_size(width, height)
    best = part
    for result in model.candidates(embedding, Prompts(points=[point])):
        logits = result.logits[:rows, :cols]
        lowres = logits > 0
        n = int(np.count_nonzero(lowres))
        if (n < max(GROW_FACTOR * np.count_nonzero(part.lowres), np.count_nonzero(best.lowres) + 1)
                or n >= GROW_AREA * lowres.size or result.score < GROW_SCORE
                or held(part.lowres, lowres) < GROW_COVER):
            continue
        whole = auto.AutoMask(result=result, point=point, score=result.score, stability=stability(logits),
                              lowres=lowres, bbox=auto.bbox_of(lowres, width, height),
                              area=int(round(n * size * size)), source="grown")
        if whole.stability >= GROW_STABILITY and _whole_of(whole, winner, thumb, sal, weights):
            best = whole
    return best


def _whole_of(whole: auto.AutoMask, winner: Candidate, thumb: np.ndarray, sal: np.ndarray, weights: Weights) -> bool:
    """Whether a larger mask is the whole the winner is part of: it still scores as a subject, or the winner is
    uncertain and the larger mask, holding it, is a confident whole that is not the ground (see GROW_HOLD)."""
    c = cues(whole, thumb, sal)
    if saliency(c, weights) >= winner.saliency - GROW_DROP:
        return True
    part = winner.proposal
    holds = held(part.lowres, whole.lowres) >= GROW_HOLD
    gain = min(whole.score, 1.0) + whole.stability - min(part.score, 1.0) - part.stability
    return part.stability < GROW_STABILITY and holds and gain >= GROW_GAIN and c["bottom"] < GROW_GROUND


SALIENCY_CELLS = 4  # the colour saliency map works on blocks of 4 x 4 decoder cells (a 64 x 64 grid)
SALIENCY_LEVELS = (0.5, 0.3)  # thresholds (fractions of the map's high percentile) for region proposals
MAX_REGIONS = 3  # region proposals decoded per level


def colour_saliency(thumb: np.ndarray) -> np.ndarray:
    """A boundary-prior colour saliency map on blocks of the decoder grid: (rows/4, cols/4) float32, 0..1.

    The frame's four sides stand for the background (Wei et al. 2012, "Geodesic saliency using background
    priors"; Zhu et al. 2014): a block is salient when its colour is unlike the nearest colours along at least
    three of the four sides, so a subject standing on one edge still stands out.
    """
    k = SALIENCY_CELLS
    r, c = max(2, thumb.shape[0] // k), max(2, thumb.shape[1] // k)
    small = block_mean(thumb[:r * k, :c * k], k)
    lum = small.mean(axis=-1)
    opp = np.stack([lum, small[..., 0] - small[..., 1], (small[..., 0] + small[..., 1]) / 2 - small[..., 2]], -1)
    feats = opp.reshape(-1, 3)
    idx = np.arange(r * c).reshape(r, c)
    band = max(1, min(r, c) // 32)
    dists = []
    for side in (idx[:band], idx[-band:], idx[:, :band], idx[:, -band:]):
        side = side.ravel()
        d = np.linalg.norm(feats[:, None, :] - feats[None, side, :], axis=-1)
        nearest = max(1, len(side) // 10)
        dists.append(np.partition(d, nearest - 1, axis=1)[:, :nearest].mean(axis=1))
    sal = np.sort(np.stack(dists), axis=0)[1].reshape(r, c)
    top = np.percentile(sal, 99)
    return np.clip(sal / top, 0, 1).astype(np.float32) if top > 0 else sal.astype(np.float32)


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components of a small bool grid (a flood fill; the grid has a few thousand cells)."""
    seen = np.zeros_like(mask)
    out = []
    h, w = mask.shape
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        comp = np.zeros_like(mask)
        stack = [start]
        seen[start] = True
        while stack:
            y, x = stack.pop()
            comp[y, x] = True
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        out.append(comp)
    return out


def region_prompts(sal: np.ndarray, width: int, height: int) -> list[Prompts]:
    """Box + deepest-point prompts for the salient regions of the map, strongest first, no duplicates."""
    block = cell_size(width, height) * SALIENCY_CELLS
    out: list[Prompts] = []
    seen_boxes = []
    for level in SALIENCY_LEVELS:
        regions = [(float(sal[comp].sum()), comp) for comp in _components(sal >= level)]
        regions.sort(key=lambda rc: rc[0], reverse=True)
        for mass, comp in regions[:MAX_REGIONS]:
            if comp.sum() < 2 or mass < 0.1 * regions[0][0]:
                continue
            rows, cols = np.flatnonzero(comp.any(axis=1)), np.flatnonzero(comp.any(axis=0))
            box = (max(0.0, (cols[0] - 0.5) * block), max(0.0, (rows[0] - 0.5) * block),
                   min(float(width), (cols[-1] + 1.5) * block), min(float(height), (rows[-1] + 1.5) * block))
            if any(_box_iou(box, b) > 0.8 for b in seen_boxes):
                continue
            seen_boxes.append(box)
            r, k = deepest_cell(comp)
            point = (min(width - 1.0, (k + 0.5) * block), min(height - 1.0, (r + 0.5) * block))
            out.append(Prompts(points=[point], box=box))
    return out


def _box_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def region_proposals(model: Model, embedding: Embedding, prompts_list: list[Prompts]) -> list[auto.AutoMask]:
    """Decode the salient regions' prompts into proposals (on the image's own grid, no zoom)."""
    width, height = embedding.width, embedding.height
    rows, cols = lowres_shape(width, height)
    size = cell_size(width, height)
    out = []
    for prompts in prompts_list:
        if not model.engine.has_box:
            prompts.box = None
        result = model.decode(embedding, prompts, refine=Refinement(zoom=False))
        logits = result.logits[:rows, :cols]
        lowres = logits > 0
        n = int(np.count_nonzero(lowres))
        if n == 0:
            continue
        out.append(auto.AutoMask(result=result, point=prompts.points[0], score=result.score,
                                 stability=stability(logits), lowres=lowres,
                                 bbox=auto.bbox_of(lowres, width, height), area=int(round(n * size * size)),
                                 source="region"))
    return out


def check_extra_prompts(extra: Prompts, width: int, height: int) -> None:
    """What may come with --subject: negative clicks and strokes inside the image, nothing positive."""
    if extra.points or extra.strokes or extra.box is not None:
        raise UsageError("--subject finds the object itself: give no --point, --stroke or --box "
                         "(--negative and --negative-stroke remove parts)")
    # validate needs a positive prompt: borrow the image's centre to check the negatives' coordinates
    Prompts(points=[(width / 2, height / 2)], negatives=extra.negatives,
            negative_strokes=extra.negative_strokes).validate(width, height)


def find_subject(model: Model, embedding: Embedding, extra: Prompts | None = None,
                 weights: Weights = WEIGHTS, grid: int = GRID, method: str = METHOD) -> Subject:
    """The main subject of an encoded image, decoded from generated prompts.

    ``extra`` may hold negative clicks and strokes; they join the final decode.
    """
    start = time.perf_counter()
    rows, cols = lowres_shape(embedding.width, embedding.height)
    thumb = thumbnail(embedding, rows, cols)
    sal = colour_saliency(thumb)
    proposals: list[auto.AutoMask] = []
    decodes = 0
    if method in ("regions", "both"):
        prompts_list = region_prompts(sal, embedding.width, embedding.height)
        proposals += region_proposals(model, embedding, prompts_list)
        decodes += len(prompts_list)
    confident = bool(proposals) and max(saliency(cues(p, thumb, sal), weights) for p in proposals) >= CONFIDENT
    if method == "grid" or (method == "both" and not confident):
        generated = auto.generate(model, embedding, points_per_side=grid, min_score=MIN_SCORE,
                                  min_stability=MIN_STABILITY, skip_covered=True,
                                  max_decodes=GRID_DECODES)
        proposals += generated.masks
        decodes += generated.decodes
    ranked = rank(proposals, thumb, sal, weights)
    if not ranked:
        raise DtmaskError("no subject found: the model proposed no object in this image; use --point or --box")
    t = time.perf_counter()
    whole = grown(model, embedding, ranked[0], thumb, sal, weights)
    decodes += 1
    prompts = prompts_for(whole, embedding.width, embedding.height)
    if not model.engine.has_box:  # segnext: no box prompt, the point alone
        prompts.box = None
    if extra is not None:
        prompts.negatives = list(extra.negatives)
        prompts.negative_strokes = [list(s) for s in extra.negative_strokes]
    result = model.decode(embedding, prompts)
    return Subject(prompts=prompts, result=result, candidates=ranked, decodes=decodes + 1,
                   seconds=time.perf_counter() - start,
                   timings={"proposals": t - start, "decode": time.perf_counter() - t})
