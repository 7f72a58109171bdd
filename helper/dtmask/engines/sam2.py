"""Family ``sam2``: SAM 2.1 exports as darktable-ai ships them (samexporter).

Tensors and rules: docs/design.md, "Model families and their tensors".
"""

from __future__ import annotations

import numpy as np

from .base import Decoded, Engine
from .spec import RoleSpec

ENCODER_OUTPUTS = ("high_res_feats_0", "high_res_feats_1", "image_embed")
DECODER_INPUTS = {"image_embed", "high_res_feats_0", "high_res_feats_1", "point_coords", "point_labels",
                  "mask_input", "has_mask_input"}


class Sam2Engine(Engine):
    family = "sam2"
    encoder_io = ({"image"}, set(ENCODER_OUTPUTS))
    decoder_io = (DECODER_INPUTS, {"masks", "iou_predictions"})
    tensors = {
        "encoder": RoleSpec(inputs=(("image", 4),), outputs=tuple((name, 4) for name in ENCODER_OUTPUTS)),
        "decoder": RoleSpec(
            inputs=(("image_embed", 4), ("high_res_feats_0", 4), ("high_res_feats_1", 4), ("point_coords", 3),
                    ("point_labels", 2), ("mask_input", 4), ("has_mask_input", 1)),
            outputs=(("masks", 4), ("iou_predictions", 2))),
    }

    def __init__(self, encoder: str, decoder: str, providers: list[str], identities: dict[str, str] | None = None):
        super().__init__(encoder, decoder, providers, identities)
        self.decoder_inputs = {i.name for i in self.decoder.get_inputs()}

    def encode(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.encoder.run(list(ENCODER_OUTPUTS), {"image": tensor})
        return {name: arr.astype(np.float32, copy=False) for name, arr in zip(ENCODER_OUTPUTS, outputs)}

    def decode(self, features, coords, labels, previous) -> Decoded:
        # the graph adds +0.5, appends the padding point and normalises by itself
        has_previous = previous is not None
        feed = dict(features)
        feed.update({
            "point_coords": coords.astype(np.float32)[None],
            "point_labels": labels.astype(np.float32)[None],
            "mask_input": previous if has_previous else np.zeros((1, 1, 256, 256), np.float32),
            "has_mask_input": np.array([1.0 if has_previous else 0.0], np.float32),
        })
        feed = {k: v for k, v in feed.items() if k in self.decoder_inputs}
        outputs = dict(zip([o.name for o in self.decoder.get_outputs()], self.decoder.run(None, feed)))
        scores = outputs["iou_predictions"][0]
        best = int(np.argmax(scores))
        masks = outputs["masks"][0]
        if masks.shape[-1] != 256 and "low_res_masks" in outputs:  # older exports: 1024-size masks + low-res
            masks = outputs["low_res_masks"][0]
        lowres = masks[best].astype(np.float32)
        return Decoded(logits=lowres, score=float(scores[best]), feedback=lowres[None, None],
                       candidates=Decoded.choices(masks, scores))
