"""Family ``hqsam``: HQ-SAM (SysCV sam-hq) ONNX exports, as darktable's earlier AI mask work used them.

The encoder gives ``image_embeddings`` [1,256,64,64] and ``interm_embeddings``, the early ViT features the HQ
token refines with ([1,1,64,64,160] for Light HQ-SAM's TinyViT, [4,1,64,64,C] for ViT-B/L/H). The decoder is
segment-anything's ONNX decoder with ``interm_embeddings`` as one more input (sam-hq's ``SamOnnxModel``): the
same labels, +0.5 and /1024 inside the graph, padding point, ``orig_im_size`` and outputs as family ``sam1``, so
this engine is the sam1 engine with the second encoder output carried along (and cached with the first).
"""

from __future__ import annotations

import numpy as np

from .sam1 import DECODER_SPEC, Sam1Engine
from .spec import RoleSpec

ENCODER_OUTPUTS = ("image_embeddings", "interm_embeddings")


class HqSamEngine(Sam1Engine):
    family = "hqsam"
    encoder_io = (set(), set(ENCODER_OUTPUTS))
    decoder_io = (Sam1Engine.decoder_io[0] | {"interm_embeddings"}, {"iou_predictions"})
    tensors = {
        "encoder": RoleSpec(inputs=((None, 4),), outputs=(("image_embeddings", 4), ("interm_embeddings", 5))),
        "decoder": RoleSpec(inputs=DECODER_SPEC.inputs + (("interm_embeddings", 5),), outputs=DECODER_SPEC.outputs),
    }

    def encode(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        # the image input goes by position: darktable-ai's export calls it image, others input
        session = self.encoder
        outputs = session.run(list(ENCODER_OUTPUTS), {session.get_inputs()[0].name: tensor})
        return {name: arr.astype(np.float32, copy=False) for name, arr in zip(ENCODER_OUTPUTS, outputs)}
