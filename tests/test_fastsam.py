"""Family fastsam on a tiny YOLOv8-seg ONNX model whose candidates and prototypes are known exactly:
confidence threshold, NMS, masks cropped to their boxes, and selection by points, negatives and boxes."""

import numpy as np
import pytest

import dtmask
from dtmask.engines import FAMILIES
from dtmask.engines.base import LABEL_BACKGROUND as BG, LABEL_BOX_BOTTOM_RIGHT as BR, LABEL_BOX_TOP_LEFT as TL
from dtmask.engines.base import LABEL_FOREGROUND as FG
from dtmask.engines.fastsam import box_iou, decode_instances, nms, select
from dtmask.errors import ModelError
from dtmask.model import EmbeddingCache, Model
from dtmask.refine import Refinement

from tiny_models import fastsam_candidate, fastsam_model

CPU = ["CPUExecutionProvider"]
A = (128, 128, 512, 512)  # region 0
B = (256, 256, 384, 384)  # region 1, inside A
C = (576, 640, 960, 896)  # region 2
E = (128, 128, 320, 512)  # region 0 cropped by a narrower box
CANDIDATES = [
    fastsam_candidate(A, 0.9, 0),
    fastsam_candidate(B, 0.8, 1),
    fastsam_candidate(C, 0.7, 2),
    fastsam_candidate((132, 132, 516, 516), 0.85, 0),  # IoU 0.96 with A: suppressed
    fastsam_candidate((0, 0, 1024, 1024), 0.3, 2),  # below the confidence threshold
    fastsam_candidate(E, 0.6, 0),  # IoU 0.5 with A: kept
    np.zeros(37, np.float32),  # an empty slot
]
CELLS = {name: tuple(v // 4 for v in box) for name, box in dict(A=A, B=B, C=C, E=E).items()}  # on the 256 grid


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fastsam")
    return Model.from_files("fastsam", fastsam_model(folder, CANDIDATES), device="cpu", model_id="tiny-fastsam",
                            cache=EmbeddingCache(folder / "cache"))


@pytest.fixture(scope="module")
def instances(model):
    emb = model.encode(np.full((1024, 1024, 3), 100, np.uint8), use_cache=False)
    return model.engine.instances(emb.features)


def _rect(logits, cells):
    x0, y0, x1, y1 = cells
    want = np.zeros(logits.shape, bool)
    want[y0:y1, x0:x1] = True
    return want


def test_threshold_nms_boxes_scores_and_areas(instances):
    assert len(instances) == 4
    np.testing.assert_allclose(instances.boxes, [A, B, C, E])
    np.testing.assert_allclose(instances.scores, [0.9, 0.8, 0.7, 0.6], rtol=1e-6)
    assert instances.areas.tolist() == [96 * 96, 32 * 32, 96 * 64, 48 * 96]
    assert instances.prototypes.shape == (32, 256, 256)


@pytest.mark.parametrize("index,name", [(0, "A"), (1, "B"), (2, "C"), (3, "E")])
def test_instance_masks_are_cropped_to_their_boxes(instances, index, name):
    logits = instances.logits(index)
    assert logits.shape == (256, 256) and logits.dtype == np.float32
    np.testing.assert_array_equal(logits > 0, _rect(logits, CELLS[name]))
    inside = _rect(logits, CELLS[name])
    assert np.all(logits[inside] == 8.0)
    # outside the box the crop mirrors the logits to -|logit| (E's region reaches beyond its box: +8 -> -8)
    assert np.all(logits[~inside] == -8.0)


def test_nms_and_box_iou():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 5]], float)
    assert box_iou(boxes[0], boxes).round(3).tolist() == [1.0, 0.818, 0.0, 0.5]
    assert nms(boxes, 0.8).tolist() == [0, 2, 3]
    assert nms(boxes, 0.9).tolist() == [0, 1, 2, 3]
    assert nms(boxes, 0.4).tolist() == [0, 2]
    assert nms(np.zeros((0, 4)), 0.5).tolist() == []


def _pick(instances, *prompts):
    coords = np.array([p[:2] for p in prompts], float).reshape(-1, 2)
    labels = np.array([p[2] for p in prompts], float)
    return select(instances, coords, labels)


def test_a_point_picks_the_smallest_instance_containing_it(instances):
    assert _pick(instances, (300, 300, FG)) == [1]  # in A, E and B: B is the smallest
    assert _pick(instances, (200, 200, FG)) == [3]  # in A and E: E
    assert _pick(instances, (450, 450, FG)) == [0]  # E's box ends at 320: only A
    assert _pick(instances, (700, 700, FG)) == [2]
    assert _pick(instances, (50, 50, FG)) == []  # on no instance
    assert _pick(instances, (300, 300, FG), (700, 700, FG), (310, 310, FG)) == [1, 2]  # union, no repeats
    assert _pick(instances, (300, 300, FG), (0, 0, -1)) == [1]  # the padding label is ignored


def test_a_negative_point_removes_the_instances_containing_it(instances):
    assert _pick(instances, (300, 300, FG), (200, 200, BG)) == [1]  # A and E removed, B stays
    assert _pick(instances, (450, 450, FG), (300, 300, BG)) == []  # A contains the negative: nothing left
    assert _pick(instances, (200, 200, FG), (450, 450, BG)) == [3]  # A removed; E does not reach 450


def test_a_box_picks_the_best_box_iou(instances):
    assert _pick(instances, (560, 630, TL), (970, 900, BR)) == [2]
    assert _pick(instances, (120, 120, TL), (330, 520, BR)) == [3]
    assert _pick(instances, (120, 120, TL), (330, 520, BR), (200, 200, BG)) == [1]  # A, E gone: B overlaps best
    assert _pick(instances, (0, 900, TL), (100, 1000, BR)) == []  # overlaps nothing


def test_decode_through_the_model_in_the_file_frame(model):
    # 2048 x 1536: the model frame is the file frame halved (the canvas below y = 768 is padding)
    emb = model.encode(np.full((1536, 2048, 3), 60, np.uint8), use_cache=False)
    result = model.decode(emb, dtmask.Prompts(points=[(600, 600)]), refine=Refinement.raw())
    assert result.score == pytest.approx(0.8)
    mask = result.mask(refine=Refinement.raw()) > 0.5
    yy, xx = np.mgrid[:1536, :2048] + 0.5
    x0, y0, x1, y1 = (2 * v for v in B)
    inside = (xx > x0 + 2) & (xx < x1 - 2) & (yy > y0 + 2) & (yy < y1 - 2)
    outside = (xx < x0 - 2) | (xx > x1 + 2) | (yy < y0 - 2) | (yy > y1 + 2)
    assert mask[inside].all() and not mask[outside].any()
    refined = model.decode(emb, dtmask.Prompts(points=[(600, 600)])).mask() > 0.5  # the default stages run too
    assert not refined[outside].any() and refined[inside].mean() > 0.99  # (edge refinement rounds the corners)
    union = model.decode(emb, dtmask.Prompts(points=[(600, 600), (1400, 1400)]), refine=Refinement.raw())
    assert union.score == pytest.approx(0.8)
    assert ((union.logits > 0) == (_rect(union.logits, CELLS["B"]) | _rect(union.logits, CELLS["C"]))).all()


def test_no_instance_under_the_click_gives_an_empty_mask(model):
    emb = model.encode(np.full((512, 512, 3), 60, np.uint8), use_cache=False)
    result = model.decode(emb, dtmask.Prompts(points=[(10, 10)]))  # default refinement: nothing to refine
    assert result.score == 0.0 and not (result.mask() > 0.5).any()


def test_instances_are_decoded_once_per_embedding_and_cached_features_work(model, tmp_path):
    image = np.full((700, 1024, 3), 30, np.uint8)
    first = model.encode(image)
    again = model.encode(image)
    assert again.cached and set(again.features) == {"candidates", "prototypes"}
    assert again.features["candidates"].shape == (1, 37, 7)
    assert model.engine.instances(again.features) is model.engine.instances(again.features)
    a = model.decode(first, dtmask.Prompts(box=(120, 120, 330, 520)), refine=Refinement.raw())
    b = model.decode(again, dtmask.Prompts(box=(120, 120, 330, 520)), previous=a, refine=Refinement.raw())
    np.testing.assert_array_equal(a.logits, b.logits)
    assert b.score == pytest.approx(0.6)


def test_letterbox_grey_and_rgb_0_to_1(model):
    tensor = model.engine.normalise(np.full((10, 20, 3), 255.0, np.float32))
    assert tensor.shape == (1, 3, 1024, 1024)
    assert tensor[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0]
    assert tensor[0, 0, 10, 0] == pytest.approx(114 / 255) and tensor[0, 0, 0, 20] == pytest.approx(114 / 255)


def test_an_export_for_640_pixels_is_refused(tmp_path):
    engine = FAMILIES["fastsam"](str(fastsam_model(tmp_path, CANDIDATES, image_size=640)), None, CPU)
    with pytest.raises(ModelError, match="takes 640x640 images; export it with imgsz=1024"):
        engine.encode(np.zeros((1, 3, 1024, 1024), np.float32))


def test_candidates_without_classes_are_refused():
    with pytest.raises(ModelError, match="expected 4 \\+ classes \\+ 32"):
        decode_instances(np.zeros((1, 36, 5), np.float32), np.zeros((1, 32, 256, 256), np.float32))
