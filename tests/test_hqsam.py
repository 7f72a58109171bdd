"""Family hqsam on tiny ONNX models with sam-hq's real tensor names and shapes (Light HQ-SAM and ViT-B)."""

import numpy as np
import pytest

import dtmask
from dtmask.engines import FAMILIES
from dtmask.errors import ModelError
from dtmask.model import EmbeddingCache, Model
from dtmask.refine import Refinement

from tiny_models import assert_disc_at, assert_square_mask, hqsam_pair, sam2_pair

RAW = Refinement.raw()  # the engine's own logits: edge refinement rounds a flat square's corners
CPU = ["CPUExecutionProvider"]


def _model(tmp_path, variant="light"):
    return Model.from_files("hqsam", *hqsam_pair(tmp_path / variant, variant), device="cpu",
                            model_id=f"tiny-hqsam-{variant}", cache=EmbeddingCache(tmp_path / "c"))


@pytest.mark.parametrize("variant,shape", [("light", (1, 1, 64, 64, 160)), ("vit_b", (4, 1, 64, 64, 768))])
def test_interm_embeddings_go_from_encoder_to_decoder(tmp_path, variant, shape):
    model = _model(tmp_path, variant)
    image = np.full((600, 400, 3), 200, np.uint8)
    emb = model.encode(image)
    assert emb.features["image_embeddings"].shape == (1, 256, 64, 64)
    interm = emb.features["interm_embeddings"]
    assert interm.shape == shape
    # the tiny decoder's iou_predictions is the maximum of what it was given as interm_embeddings
    result = model.decode(emb, dtmask.Prompts(points=[(100, 100)]))
    assert result.score == pytest.approx(float(interm.max()))
    assert result.score != pytest.approx(0.0, abs=1e-3)
    assert result.logits.shape == (256, 256) and result.feedback.shape == (1, 1, 256, 256)
    assert_square_mask(result.mask(refine=RAW))
    assert_disc_at(result.logits, (100, 100), 400, 600)  # the click, not the padding point, comes first


def test_cached_embedding_keeps_interm_embeddings(tmp_path):
    model = _model(tmp_path)
    image = np.full((500, 700, 3), 90, np.uint8)
    first = model.encode(image)
    again = model.encode(image)
    assert again.cached and not first.cached
    np.testing.assert_array_equal(again.features["interm_embeddings"], first.features["interm_embeddings"])
    prompts = dtmask.Prompts(points=[(300, 200)], negatives=[(10, 10)], box=(50, 50, 600, 450))
    a = model.decode(first, prompts)
    b = model.decode(again, prompts)
    assert a.score == pytest.approx(b.score)
    np.testing.assert_array_equal(a.logits, b.logits)
    fed = model.decode(again, prompts, previous=a)  # previous low-res logits fed back as mask_input
    assert fed.score == pytest.approx(a.score)
    np.testing.assert_allclose(fed.logits, b.logits + a.feedback[0, 0])  # the tiny decoder adds mask_input


def test_preprocessing_is_sam1s(tmp_path):
    rgb = np.full((10, 20, 3), 255.0, np.float32)
    np.testing.assert_array_equal(FAMILIES["hqsam"].normalise(None, rgb), FAMILIES["sam1"].normalise(None, rgb))


def test_a_sam2_decoder_is_refused_by_name(tmp_path):
    enc, _ = hqsam_pair(tmp_path / "hq")
    _, dec = sam2_pair(tmp_path / "s2")
    with pytest.raises(ModelError, match="hqsam decoder lacks tensor"):
        FAMILIES["hqsam"](str(enc), str(dec), CPU)
