"""Family ``segnext``: darktable-ai's SegNext export (mask-object-segnext-b2hq).

Tensors and rules: docs/design.md, "Model families and their tensors".
"""

from __future__ import annotations

import numpy as np

from .base import Decoded, Engine
from .spec import RoleSpec

SIZE = 1024


class SegNextEngine(Engine):
    family = "segnext"
    has_box = False
    encoder_io = ({"image"}, {"image_feats"})
    decoder_io = ({"image_feats", "point_coords", "point_labels", "prev_mask"}, {"mask"})
    tensors = {
        "encoder": RoleSpec(inputs=(("image", 4),), outputs=(("image_feats", 4),)),
        "decoder": RoleSpec(inputs=(("image_feats", 4), ("point_coords", 3), ("point_labels", 2), ("prev_mask", 4)),
                            outputs=(("mask", 4),)),
    }

    def normalise(self, rgb: np.ndarray) -> np.ndarray:
        """RGB in 0..1; the graph normalises by itself."""
        canvas = np.zeros((3, SIZE, SIZE), dtype=np.float32)
        h, w = rgb.shape[:2]
        canvas[:, :h, :w] = np.moveaxis(rgb / 255.0, -1, 0)
        return canvas[None]

    def encode(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        (feats,) = self.encoder.run(["image_feats"], {"image": tensor})
        return {"image_feats": feats.astype(np.float32, copy=False)}

    def decode(self, features, coords, labels, previous) -> Decoded:
        prev = previous if previous is not None else np.zeros((1, 1, SIZE, SIZE), np.float32)
        (mask,) = self.decoder.run(["mask"], {
            "image_feats": features["image_feats"],
            "point_coords": coords.astype(np.float32)[None],
            "point_labels": labels.astype(np.float32)[None],
            "prev_mask": prev,
        })
        mask = mask[0, 0].astype(np.float32)
        logits = as_logits(mask)
        # no predicted IoU in this export: report the mean confidence inside the mask instead
        inside = logits > 0
        score = float(1.0 / (1.0 + np.exp(-np.abs(logits[inside]))).mean()) if inside.any() else 0.0
        return Decoded(logits=logits, score=score, feedback=mask[None, None])


def as_logits(mask: np.ndarray) -> np.ndarray:
    """darktable reads this output as probabilities, darktable-ai as logits: decide by its range."""
    if mask.min() >= 0.0 and mask.max() <= 1.0:
        p = np.clip(mask, 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p)).astype(np.float32)
    return mask
