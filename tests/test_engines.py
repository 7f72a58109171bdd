"""Each family engine against tiny ONNX models that carry the real tensor names and shapes."""

import numpy as np
import pytest

import dtmask
from dtmask.engines import FAMILIES
from dtmask.engines.segnext import as_logits
from dtmask.errors import ModelError, UsageError
from dtmask.model import Model
from dtmask.refine import Refinement

from tiny_models import assert_disc_at, assert_square_mask, disc_centre, sam2_pair, segnext_pair

RAW = Refinement.raw()  # the engine's own logits: edge refinement rounds a flat square's corners
CPU = ["CPUExecutionProvider"]


def _model(family, encoder, decoder, tmp_path):
    return Model.from_files(family, encoder, decoder, device="cpu", model_id=f"tiny-{family}",
                            cache=dtmask.model.EmbeddingCache(tmp_path))


def test_sam2_picks_best_mask_and_feeds_it_back(tmp_path):
    model = _model("sam2", *sam2_pair(tmp_path / "m"), tmp_path)
    emb = model.encode(np.full((600, 400, 3), 128, np.uint8))
    assert emb.features["image_embed"].shape == (1, 256, 64, 64)
    assert emb.features["high_res_feats_0"].shape == (1, 32, 256, 256)
    first = model.decode(emb, dtmask.Prompts(points=[(100, 100)], box=(10, 10, 300, 500)))
    assert first.score == pytest.approx(0.9)
    assert first.feedback.shape == (1, 1, 256, 256)
    assert_square_mask(first.mask(refine=RAW))
    assert_disc_at(first.logits, (100, 100), 400, 600)  # the click reached the decoder in the model frame
    second = model.decode(emb, dtmask.Prompts(points=[(100, 100)], negatives=[(5, 5)]), previous=first)
    assert_square_mask(second.mask(refine=RAW))
    # the tiny decoder adds mask_input when has_mask_input is 1: the second answer holds the first one
    np.testing.assert_allclose(second.logits, first.logits + first.feedback[0, 0])
    np.testing.assert_allclose(first.feedback[0, 0], first.logits)  # sam2 feeds back the chosen mask's logits


@pytest.mark.parametrize("probabilities", [False, True])
def test_segnext_logits_or_probabilities(tmp_path, probabilities):
    model = _model("segnext", *segnext_pair(tmp_path / "m", probabilities), tmp_path)
    emb = model.encode(np.zeros((700, 900), np.uint16))
    result = model.decode(emb, dtmask.Prompts(points=[(400, 300)]))
    assert result.logits.shape == (1024, 1024)
    assert_square_mask(result.mask(refine=RAW))
    assert result.feedback.shape == (1, 1, 1024, 1024)
    assert 0.9 < result.score <= 1.0
    assert_disc_at(result.logits, (400, 300), 900, 700)
    # prev_mask carries the last output back; the new click moves the disc
    second = model.decode(emb, dtmask.Prompts(points=[(600, 200)]), previous=result)
    assert_square_mask(second.mask(refine=RAW))
    own = second.logits - result.feedback[0, 0]  # what the decoder drew itself, without the fed-back mask
    np.testing.assert_allclose(disc_centre(own), (600 * 1024 / 900, 200 * 1024 / 900), atol=1.5)
    with pytest.raises(UsageError, match="takes no box"):
        model.decode(emb, dtmask.Prompts(box=(1, 1, 50, 50)))


def test_as_logits_decides_by_range():
    p = np.array([0.0, 0.5, 1.0], np.float32)
    assert np.sign(as_logits(p)).tolist() == [-1, 0, 1]
    raw = np.array([-3.0, 2.0], np.float32)
    assert as_logits(raw) is raw


def test_wrong_family_is_named(tmp_path):
    enc, dec = segnext_pair(tmp_path / "m", False)
    with pytest.raises(ModelError, match="sam2 decoder lacks tensor"):
        FAMILIES["sam2"](str(enc), str(dec), CPU)


def test_normalisation_sam_vs_segnext(tmp_path):
    rgb = np.full((10, 20, 3), 255.0, np.float32)
    sam = FAMILIES["sam2"].normalise(None, rgb)
    seg = FAMILIES["segnext"].normalise(None, rgb)
    assert sam.shape == seg.shape == (1, 3, 1024, 1024)
    assert seg[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0] and seg[0, 0, 10, 0] == 0.0  # padding stays zero
    assert sam[0, 0, 0, 0] == pytest.approx((255 - 123.675) / 58.395)
    assert sam[0, 0, 0, 20] == 0.0


def test_a_result_makes_its_mask_with_the_stages_it_was_decoded_with(tmp_path):
    """decode(refine=r) is enough: the result remembers r, so mask() cannot silently use other stages."""
    model = _model("sam2", *sam2_pair(tmp_path / "m"), tmp_path)
    emb = model.encode(np.full((600, 400, 3), 128, np.uint8))
    prompts = dtmask.Prompts(points=[(100, 100)])
    soft = RAW.with_feather(8)
    result = model.decode(emb, prompts, refine=soft)
    assert result.refine == soft
    edge = (result.mask() > 0) & (result.mask() < 1)
    assert edge.sum() > 100  # feathered, as decoded
    hard = result.mask(refine=RAW)  # an explicit choice still wins
    assert set(np.unique(hard)) == {0.0, 1.0}
    assert model.decode(emb, prompts).refine == dtmask.Refinement()


def test_from_files_refuses_an_unknown_family(tmp_path):
    with pytest.raises(dtmask.UsageError, match="unknown model family 'sam9'"):
        Model.from_files("sam9", tmp_path / "e.onnx")
