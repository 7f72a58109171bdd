"""Family ``fastsam``: FastSAM, a YOLOv8-seg network exported to ONNX (ultralytics ``export(format="onnx")``).

One network, no prompt decoder: ``images`` [1,3,1024,1024] (RGB 0..1, letterboxed) gives candidates [1,4+nc+32,K]
(cx, cy, w, h in model-frame pixels, nc class confidences, FastSAM has nc = 1, then 32 mask coefficients) and
prototypes [1,32,256,256]. The raw outputs are the "features" (what the cache keeps); decoding every instance
(confidence threshold, non-maximum suppression by box IoU, mask = coefficients x prototypes cropped to the box)
happens once per embedding, in numpy, and each prompt then selects among the instances:

- a positive point picks the smallest instance that contains it and no negative point;
- a negative point removes every instance that contains it;
- a box picks the instance whose box has the best IoU with it.

The mask of the selection is the union of the chosen instances, as logits on the prototypes' 256 x 256 grid over
the model frame (sigmoid(logit) > 0.5 is ultralytics' mask); refinement upsamples it like any other family's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..geometry import MODEL_SIZE
from .base import LABEL_BACKGROUND, LABEL_BOX_BOTTOM_RIGHT, LABEL_BOX_TOP_LEFT, LABEL_FOREGROUND, Decoded, Engine
from .spec import RoleSpec

CONFIDENCE = 0.4  # FastSAM's own defaults (ultralytics FastSAM predictor: conf 0.4, iou 0.9)
NMS_IOU = 0.9
MAX_INSTANCES = 300
OUTSIDE = -32.0  # logit of every cell when nothing is selected
PAD = 114.0 / 255.0  # ultralytics' letterbox grey


@dataclass
class Instances:
    """Every object FastSAM found in one image, best first. Boxes are model-frame pixels (x0, y0, x1, y1)."""

    boxes: np.ndarray  # (M, 4) float
    scores: np.ndarray  # (M,) confidence
    coefficients: np.ndarray  # (M, P) mask coefficients
    prototypes: np.ndarray  # (P, n, n)
    areas: np.ndarray  # (M,) grid cells inside each instance's mask

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def grid(self) -> int:
        return self.prototypes.shape[-1]

    def cell_boxes(self) -> np.ndarray:
        """The boxes in prototype-grid cells (ultralytics' downsampled boxes)."""
        return self.boxes * (self.grid / MODEL_SIZE)

    def logits(self, index: int) -> np.ndarray:
        """(n, n) float32 mask logits of one instance, negative beyond its box."""
        return _masks(self.coefficients[index:index + 1], self.prototypes, self.cell_boxes()[index:index + 1])[0]

    def containing(self, x: float, y: float) -> np.ndarray:
        """Bool (M,): the instances whose mask covers the model-frame point (x, y)."""
        n = self.grid
        cx = min(max(int((x + 0.5) * n / MODEL_SIZE), 0), n - 1)
        cy = min(max(int((y + 0.5) * n / MODEL_SIZE), 0), n - 1)
        b = self.cell_boxes()
        in_box = (cx >= b[:, 0]) & (cx < b[:, 2]) & (cy >= b[:, 1]) & (cy < b[:, 3])
        return in_box & (self.coefficients @ self.prototypes[:, cy, cx] > 0)


def decode_instances(candidates: np.ndarray, prototypes: np.ndarray, confidence: float = CONFIDENCE,
                     iou: float = NMS_IOU, limit: int = MAX_INSTANCES) -> Instances:
    """Threshold, suppress and measure the candidates of one image ([1, 4+nc+P, K] and [1, P, n, n])."""
    pred = np.asarray(candidates[0], dtype=np.float32).T  # (K, 4 + nc + P)
    protos = np.asarray(prototypes[0], dtype=np.float32)
    p = protos.shape[0]
    nc = pred.shape[1] - 4 - p
    if nc < 1:
        raise ModelError(f"fastsam output has {pred.shape[1]} values per candidate; expected 4 + classes + {p}")
    conf = pred[:, 4:4 + nc].max(axis=1)
    keep = np.flatnonzero(conf > confidence)
    keep = keep[np.argsort(-conf[keep], kind="stable")]
    cx, cy, w, h = pred[keep, :4].T
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    chosen = nms(boxes, iou)[:limit]
    keep, boxes = keep[chosen], boxes[chosen]
    coefficients = pred[keep, 4 + nc:]
    areas = np.zeros(len(keep), np.int64)
    cells = boxes * (protos.shape[-1] / MODEL_SIZE)
    for start in range(0, len(keep), 32):  # bounded memory: 32 masks at a time
        chunk = slice(start, start + 32)
        areas[chunk] = (_masks(coefficients[chunk], protos, cells[chunk]) > 0).sum(axis=(1, 2))
    return Instances(boxes=boxes, scores=conf[keep], coefficients=coefficients, prototypes=protos, areas=areas)


def _masks(coefficients: np.ndarray, prototypes: np.ndarray, cell_boxes: np.ndarray) -> np.ndarray:
    """(m, n, n) logits = coefficients x prototypes, cropped to each box like ultralytics' crop_mask.

    ultralytics zeroes the probabilities outside the box, then upsamples them; in logits the same edge comes from
    mirroring: a cell outside the box gets -|logit| (at most -1), so upsampling crosses zero at the box border
    instead of being pulled inwards by a large constant.
    """
    p, n, _ = prototypes.shape
    logits = (coefficients @ prototypes.reshape(p, -1)).reshape(-1, n, n)
    idx = np.arange(n)
    x0, y0, x1, y1 = (cell_boxes[:, k, None] for k in range(4))
    cols = (idx >= x0) & (idx < x1)  # (m, n)
    rows = (idx >= y0) & (idx < y1)
    inside = rows[:, :, None] & cols[:, None, :]
    return np.where(inside, logits, np.minimum(-np.abs(logits), -1.0)).astype(np.float32)


def nms(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression of boxes sorted best first (torchvision's rule: a box
    goes when its IoU with a kept box is above ``iou``)."""
    x0, y0, x1, y1 = boxes.T
    area = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    alive = np.ones(len(boxes), bool)
    kept = []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        kept.append(i)
        rest = np.flatnonzero(alive[i + 1:]) + i + 1
        if not len(rest):
            break
        alive[rest[box_iou(boxes[i], boxes[rest], area[i], area[rest]) > iou]] = False
    return np.array(kept, np.intp)


def box_iou(box: np.ndarray, boxes: np.ndarray, area=None, areas=None) -> np.ndarray:
    """IoU of one box (x0, y0, x1, y1) with each of ``boxes``."""
    if area is None:
        area = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
    if areas is None:
        areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = iw * ih
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def select(instances: Instances, coords: np.ndarray, labels: np.ndarray) -> list[int]:
    """The instances the prompts pick (model-frame coordinates, LABEL_* labels), in prompt order."""
    if not len(instances):
        return []
    allowed = np.ones(len(instances), bool)
    for (x, y), label in zip(coords, labels):
        if label == LABEL_BACKGROUND:
            allowed &= ~instances.containing(x, y)
    chosen: list[int] = []
    for (x, y), label in zip(coords, labels):
        if label != LABEL_FOREGROUND:
            continue
        hits = np.flatnonzero(instances.containing(x, y) & allowed)
        if len(hits):
            chosen.append(int(hits[np.argmin(instances.areas[hits])]))
    corners = {int(label): (x, y) for (x, y), label in zip(coords, labels)
               if label in (LABEL_BOX_TOP_LEFT, LABEL_BOX_BOTTOM_RIGHT)}
    if len(corners) == 2:
        box = np.array([*corners[LABEL_BOX_TOP_LEFT], *corners[LABEL_BOX_BOTTOM_RIGHT]], np.float64)
        ious = np.where(allowed, box_iou(box, instances.boxes), -1.0)
        best = int(np.argmax(ious))
        if ious[best] > 0:
            chosen.append(best)
    return list(dict.fromkeys(chosen))


class FastSamEngine(Engine):
    family = "fastsam"
    encoder_io = ({"images"}, set())
    tensors = {"encoder": RoleSpec(inputs=(("images", 4),), outputs=((None, 3), (None, 4)))}

    def __init__(self, encoder: str, decoder: str | None, providers: list[str],
                 identities: dict[str, str] | None = None):
        # one network: no decoder session; the base class's lazy encoder loading still applies
        self.encoder_path = encoder
        self.providers = providers
        self.identities = identities or {}
        self._encoder = None
        self.decoder = None
        self._memo: tuple[np.ndarray, Instances] | None = None

    def normalise(self, rgb: np.ndarray) -> np.ndarray:
        """RGB 0..1 at the top-left of a 1024 canvas padded with ultralytics' letterbox grey."""
        canvas = np.full((3, MODEL_SIZE, MODEL_SIZE), PAD, dtype=np.float32)
        h, w = rgb.shape[:2]
        canvas[:, :h, :w] = np.moveaxis(rgb / 255.0, -1, 0)
        return canvas[None]

    def encode(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        session = self.encoder
        shape = session.get_inputs()[0].shape
        if isinstance(shape[-1], int) and shape[-1] != MODEL_SIZE:
            raise ModelError(f"this fastsam export takes {shape[-1]}x{shape[-1]} images; export it with "
                             f"imgsz={MODEL_SIZE}")
        outputs = session.run(None, {"images": tensor})
        candidates = next(o for o in outputs if o.ndim == 3)
        prototypes = next(o for o in outputs if o.ndim == 4)
        return {"candidates": candidates.astype(np.float32, copy=False),
                "prototypes": prototypes.astype(np.float32, copy=False)}

    def instances(self, features: dict[str, np.ndarray]) -> Instances:
        """Every instance of an encoded image (decoded once per embedding, then remembered): also what a
        whole-picture ``--all`` can use directly."""
        memo = self._memo
        if memo is not None and memo[0] is features["candidates"]:
            return memo[1]
        found = decode_instances(features["candidates"], features["prototypes"])
        self._memo = (features["candidates"], found)
        return found

    def decode(self, features, coords, labels, previous) -> Decoded:
        # ``previous`` is not used: the instances do not depend on earlier answers
        found = self.instances(features)
        chosen = select(found, coords, labels)
        n = found.grid
        logits = np.full((n, n), OUTSIDE, np.float32)
        for i in chosen:
            np.maximum(logits, found.logits(i), out=logits)
        score = float(found.scores[chosen].max()) if chosen else 0.0
        return Decoded(logits=logits, score=score, feedback=logits[None, None])
