"""Mask refinement stages on small arrays (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from dtmask.geometry import ResizeLongestSide
from dtmask.refine import (Patch, Refinement, agrees, clean_components, crop_logits, feather, guided_edges, matte,
                           refine_mask, upsample_mask, zoom_rect)
from dtmask.refine.matting import _near_edge
from dtmask.refine.parts import Runs


def _logits_from(fn, width: int, height: int, n: int = 256) -> np.ndarray:
    """Low-res logits whose value at each cell is fn(x, y) of the file-frame pixel at the cell's centre."""
    w, h = ResizeLongestSide(width, height).resized_size
    centres = (np.arange(n) + 0.5) * 1024 / n
    xs, ys = centres * width / w - 0.5, centres * height / h - 0.5
    return fn(xs[None, :], ys[:, None]).astype(np.float32)


def _edge_column(mask: np.ndarray) -> float:
    """Mean column where rows switch from object (left) to background."""
    return float(mask.sum(axis=1).mean())


def test_guided_upsampling_moves_a_blurred_edge_onto_the_photos_edge():
    width, height = 2048, 1024  # a logit cell is 8 pixels here
    photo = np.full((height, width, 3), 40, np.uint8)
    photo[:, :1000] = (200, 120, 60)  # the real edge: column 1000
    logits = _logits_from(lambda x, y: (1006 - x) / 4.0 + 0 * y, width, height)  # the model's edge: 1006
    raw = upsample_mask(logits, width, height)
    assert abs(_edge_column(raw) - 1006) <= 1
    refined = raw.copy()
    guided_edges(refined, logits, photo)
    assert abs(_edge_column(refined) - 1000) <= 0.5
    # only the boundary band changes: far from the edge the mask is untouched
    assert (refined[:, :900] == 1).all() and (refined[:, 1100:] == 0).all()


def test_guided_upsampling_keeps_the_models_edge_on_a_flat_photo():
    width, height = 1024, 512
    photo = np.full((height, width), 30000, np.uint16)[..., None]
    logits = _logits_from(lambda x, y: (500 - x) / 4.0 + 0 * y, width, height)
    raw = upsample_mask(logits, width, height)
    refined = raw.copy()
    guided_edges(refined, logits, photo)
    assert abs(_edge_column(refined) - _edge_column(raw)) <= 1


def _discs(width: int, height: int, centres, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    mask = np.zeros((height, width), np.float32)
    for cx, cy in centres:
        mask[np.hypot(xx - cx, yy - cy) < radius] = 1
    return mask


def test_components_keep_the_clicked_part_only():
    mask = _discs(200, 100, [(50, 50), (150, 50)], 20)
    clean_components(mask, points=[(150, 50)], options=Refinement(holes=False))
    assert mask[50, 150] == 1 and mask[50, 50] == 0
    assert mask.sum() == pytest.approx(_discs(200, 100, [(150, 50)], 20).sum())


def test_components_without_a_hit_keep_large_parts():
    mask = _discs(200, 100, [(50, 50), (150, 50)], 20) + _discs(200, 100, [(100, 90)], 2)
    clean_components(mask, points=[(100, 5)], options=Refinement(holes=False))  # a click off the mask
    assert mask[50, 50] == 1 and mask[50, 150] == 1 and mask[90, 100] == 0


def test_holes_are_filled_unless_a_negative_click_marks_them():
    ring = _discs(120, 120, [(60, 60)], 50)
    ring[58:62, 58:62] = 0  # a small hole
    ring[20:24, 40:44] = 0  # another
    big = ring.copy()
    big[40:80, 40:80] = 0  # a real hole, a large part of the object
    options = Refinement(components=False, hole_fraction=0.01)
    filled = ring.copy()
    clean_components(filled, options=options)
    assert filled[60, 60] == 1 and filled[22, 42] == 1
    marked = ring.copy()
    clean_components(marked, negatives=[(60, 60)], options=options)
    assert marked[60, 60] == 0 and marked[22, 42] == 1
    clean_components(big, options=options)
    assert big[60, 60] == 0


def test_run_labels_match_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(3)
    for _ in range(50):
        mask = rng.random(tuple(rng.integers(1, 30, 2))) < rng.random()
        runs = Runs.of(mask)
        labelled = np.full(mask.shape, -1)
        for row, start, end, label in zip(runs.rows, runs.starts, runs.ends, runs.labels):
            labelled[row, start:end] = label
        _, count = ndimage.label(mask, structure=np.ones((3, 3)))
        assert ((labelled >= 0) == mask).all()
        assert len(set(zip(labelled[mask].tolist(), ndimage.label(mask, np.ones((3, 3)))[0][mask].tolist()))) \
            == count == len(np.unique(runs.labels))


def test_gaps_are_the_runs_of_the_complement():
    rng = np.random.default_rng(4)
    for _ in range(50):
        mask = rng.random(tuple(rng.integers(1, 30, 2))) < rng.random()
        gaps, direct = Runs.of(mask).gaps(mask.shape[0]), Runs.of(~mask)
        for field in ("rows", "starts", "ends", "labels"):
            assert np.array_equal(getattr(gaps, field), getattr(direct, field)), field


def test_raw_refinement_is_the_plain_upsampling():
    logits = _logits_from(lambda x, y: 40 - np.hypot(x - 100, y - 80), 300, 200)
    patch = Patch(logits, (0, 0, 300, 200))
    raw = refine_mask([patch], 300, 200, None, options=Refinement.raw())
    assert np.array_equal(raw, upsample_mask(logits, 300, 200))


def test_zoom_crops_around_a_small_object_only():
    width, height = 3000, 2000
    small = _logits_from(lambda x, y: 60 - np.hypot(x - 900, y - 700), width, height)
    rect = zoom_rect(small, width, height, [(900, 700)])
    assert rect is not None
    x0, y0, x1, y1 = rect
    assert x0 < 840 and x1 > 960 and y0 < 640 and y1 > 760 and x1 - x0 < width / 2
    large = _logits_from(lambda x, y: 900 - np.hypot(x - 1500, y - 1000), width, height)
    assert zoom_rect(large, width, height, [(1500, 1000)]) is None
    assert zoom_rect(np.full((256, 256), -5, np.float32), width, height) is None


def test_crop_logits_and_agreement():
    width, height = 3000, 2000
    logits = _logits_from(lambda x, y: 60 - np.hypot(x - 900, y - 700), width, height)
    rect = (600, 400, 1200, 1000)
    ramp = _logits_from(lambda x, y: 0.01 * x - 0.02 * y, width, height)
    moved = crop_logits(ramp, width, height, rect)
    expected = _logits_from(lambda x, y: 0.01 * (x + 600) - 0.02 * (y + 400), 600, 600)
    assert np.abs(moved - expected).max() < 1e-3  # bilinear resampling of a linear function is exact
    inner = _logits_from(lambda x, y: 60 - np.hypot(x - 300, y - 300), 600, 600)
    assert agrees(logits, inner, width, height, rect)
    assert not agrees(logits, np.full_like(inner, 5.0), width, height, rect)


def test_zoom_patch_is_pasted_in_its_rectangle():
    width, height = 400, 300
    outside = np.full((256, 256), -5, np.float32)
    inside = np.full((256, 256), 5, np.float32)
    mask = refine_mask([Patch(outside, (0, 0, width, height)), Patch(inside, (100, 50, 200, 150))],
                       width, height, None, options=Refinement(guided=False, components=False, holes=False))
    assert mask[50:150, 100:200].all() and mask.sum() == 100 * 100


def test_feather_softens_in_place():
    mask = np.zeros((20, 20), np.float32)
    mask[:, :10] = 1
    out = feather(mask, 4)
    assert out is mask and 0 < mask[10, 10] < 1 and mask[10, 0] == pytest.approx(1)


def test_guided_upsampling_keeps_corners_where_the_photo_is_flat():
    width, height = 2048, 1024
    photo = np.full((height, width, 3), 128, np.uint8)
    logits = _logits_from(lambda x, y: np.minimum(np.minimum(x - 500, 1300 - x), np.minimum(y - 200, 800 - y)) / 4.0,
                          width, height)
    raw = upsample_mask(logits, width, height)
    refined = raw.copy()
    guided_edges(refined, logits, photo)
    assert np.array_equal(refined, raw)


def test_stages_switch_off_by_name():
    r = Refinement(feather=2.0).without(["edges", "zoom", "first-choice"])
    assert (r.guided, r.zoom, r.first_choice, r.components, r.holes, r.feather) == (False, False, False, True, True, 2.0)
    assert Refinement(feather=2.0).without(["all"]) == Refinement.raw().with_feather(2.0)
    assert Refinement().without([]) == Refinement()


def _strand_photo(width: int = 600, height: int = 300):
    """A bright body on the left (columns < 300) with thin, half-transparent bright strands growing right over a
    dark background, and its exact alpha."""
    alpha = np.zeros((height, width), np.float32)
    alpha[:, :300] = 1
    for row in range(10, height - 10, 12):
        alpha[row:row + 2, 300:320] = 0.6  # strands 2 px wide, 20 px long
    body, background = np.array([230, 200, 150], np.float32), np.array([20, 30, 60], np.float32)
    photo = background * (1 - alpha[..., None]) + body * alpha[..., None]
    return np.round(photo).astype(np.uint8), alpha


def test_matte_gives_strands_outside_the_mask_their_alpha():
    photo, alpha = _strand_photo()
    mask = (alpha == 1).astype(np.float32)  # a hard mask that stops at the body
    matte(mask, photo, radius=24.0)
    strands = (alpha > 0) & (alpha < 1)
    assert np.abs(mask[strands] - alpha[strands]).mean() < 0.15  # was 0.6
    gaps = np.zeros_like(strands)
    gaps[:, 300:320] = alpha[:, 300:320] == 0
    assert mask[gaps].mean() < 0.05  # the background between strands stays out
    assert mask[:, :280].min() > 0.97 and mask[:, 340:].max() < 0.01  # far from the edge nothing changes


@pytest.mark.parametrize("opacity", [0.3, 0.5])
def test_matte_keeps_a_faint_strand_s_whole_alpha_in_a_noisy_photo(opacity):
    """The noise floor decides which pixels are partly the object's; it takes nothing off those above it (taking
    the floor off every pixel left 0.3 strands at 0.25 here)."""
    alpha = np.zeros((300, 600), np.float32)
    alpha[:, :300] = 1
    for row in range(10, 290, 12):
        alpha[row:row + 2, 300:308] = opacity  # strands 2 px wide, within a window of the body
    body, background = np.array([230, 200, 150], np.float32), np.array([20, 30, 60], np.float32)
    photo = background * (1 - alpha[..., None]) + body * alpha[..., None]
    photo = np.clip(np.round(photo + np.random.default_rng(3).normal(0, 8, photo.shape)), 0, 255).astype(np.uint8)
    mask = (alpha == 1).astype(np.float32)
    matte(mask, photo)
    strands = (alpha > 0) & (alpha < 1)
    assert np.abs(mask[strands] - alpha[strands]).mean() < 0.03  # 0.053 and 0.035 with the floor taken off
    assert mask[:, 300:308][alpha[:, 300:308] == 0].mean() < 0.005 and mask[:, 312:].max() == 0  # gaps stay out


def _long_strand_photo(width: int, height: int = 600):
    """A bright body on the left half with 40 px long, half-transparent strands growing right over a dark, noisy
    background: longer than the matte's band outside the mask (24 px)."""
    alpha = np.zeros((height, width), np.float32)
    edge = width // 2
    alpha[:, :edge] = 1
    for row in range(10, height - 10, 12):
        alpha[row:row + 2, edge:edge + 40] = 0.6
    body, background = np.array([230, 200, 150], np.float32), np.array([20, 30, 60], np.float32)
    photo = background * (1 - alpha[..., None]) + body * alpha[..., None]
    photo = np.clip(np.round(photo + np.random.default_rng(4).normal(0, 2, photo.shape)), 0, 255).astype(np.uint8)
    return photo, alpha, edge


def test_matte_finds_an_edge_along_its_cells_borders():
    """The band's tiles are found on cells of 32 px: an edge exactly on a cell border leaves no cell half full."""
    photo, alpha, edge = _long_strand_photo(2560)  # the edge at column 1280, 40 cells in
    mask = (alpha == 1).astype(np.float32)
    matte(mask, photo)
    assert mask[:, edge:edge + 16][alpha[:, edge:edge + 16] > 0].mean() > 0.4


def test_matte_reaches_long_strands_in_a_large_frame_and_leaves_hard_edges_hard():
    """Strands grow with the frame: over MATTE_FRAME pixels, where the band outside the mask is fur, the matte
    runs again on the photo at half size, whose band reaches twice as far; beside a hard edge it does not."""
    from dtmask.refine.matting import MATTE_FRAME

    photo, alpha, edge = _long_strand_photo(MATTE_FRAME + 200)
    mask = (alpha == 1).astype(np.float32)
    matte(mask, photo)
    far = alpha[:, edge + 28:edge + 40] > 0  # strands past the full-size band
    assert mask[:, edge + 28:edge + 40][far].mean() > 0.25 and mask[:, edge + 60:].max() == 0
    assert np.array_equal(mask > 0.5, alpha == 1)  # the edge never moves
    small = (alpha == 1).astype(np.float32)[:, :MATTE_FRAME - 200]
    matte(small, photo[:, :MATTE_FRAME - 200])  # the same scene in a smaller frame: one band, at full size
    assert small[:, edge + 28:edge + 40][far].max() == 0

    hard = np.full_like(photo, 40)
    hard[:, :edge + 3] = (200, 120, 60)  # a hard edge off the cells' grid, in noise of 8 levels
    hard = np.clip(hard + np.random.default_rng(5).normal(0, 8, hard.shape), 0, 255).astype(np.uint8)
    sharp = np.zeros(alpha.shape, np.float32)
    sharp[:, :edge + 3] = 1
    matte(sharp, hard)
    assert sharp[:, edge + 7:].max() < 0.02


@pytest.mark.parametrize("inward, outward", [(5, 11), (11, 5), (7, 7)])
def test_the_matte_band_reaches_its_own_distance_on_each_side(inward, outward):
    """Strands grow out of the body, so the band reaches further outside the edge than inside: a pixel is in it
    when a pixel on the edge (one with a 4-neighbour on the other side) lies within its side's distance, counted
    as a square's half side."""
    from scipy import ndimage

    inside = np.zeros((200, 300), bool)
    inside[40:150, 60:200] = True
    inside[90:100, 200:260] = True  # a thin arm
    inside[70:80, 100:110] = False  # a hole
    edge = np.zeros_like(inside)
    edge[:-1] |= inside[:-1] != inside[1:]
    edge[1:] |= inside[:-1] != inside[1:]
    edge[:, :-1] |= inside[:, :-1] != inside[:, 1:]
    edge[:, 1:] |= inside[:, :-1] != inside[:, 1:]
    distance = ndimage.distance_transform_cdt(~edge, metric="chessboard")
    expected = np.where(inside, distance <= inward, distance <= outward)
    assert np.array_equal(_near_edge(inside, inward, outward), expected)


def test_matte_unmixes_strands_of_their_own_colour():
    """Strands lighter than the body (hair and fur often are): their colour, not the body's, is what they mix
    with the background, so F comes from the pixel's own window rather than from the body beyond the band."""
    alpha = np.zeros((300, 600), np.float32)
    alpha[:, :300] = 1
    for row in range(10, 290, 12):
        alpha[row:row + 2, 300:316] = 0.6  # strands 2 px wide, 16 px long
    body, strand, background = (np.array(c, np.float32) for c in ((150, 90, 50), (240, 230, 200), (20, 30, 60)))
    colour = np.where(alpha[..., None] < 1, strand, body)
    photo = background * (1 - alpha[..., None]) + colour * alpha[..., None]
    photo = np.clip(np.round(photo + np.random.default_rng(1).normal(0, 2, photo.shape)), 0, 255).astype(np.uint8)
    mask = (alpha == 1).astype(np.float32)
    matte(mask, photo)
    strands = (alpha > 0) & (alpha < 1)
    assert np.abs(mask[strands] - alpha[strands]).mean() < 0.2  # 0.6 with the body's colour as F
    assert mask[:, 300:316][alpha[:, 300:316] == 0].mean() < 0.01  # the background between strands stays out


def test_matte_does_not_depend_on_where_its_tiles_fall():
    """The band is cut into tiles only to be worked on: a window or a neighbour past a tile's border reads the
    tile beside it, so the same scene placed half a tile further gets the same alpha."""
    y, x = np.mgrid[0:520, 0:520]
    edge = 260 + 40 * np.sin(y / 37.0)  # a wavy edge that crosses the tiles' borders
    alpha = (x < edge).astype(np.float32)
    alpha[(y % 9 < 2) & (x >= edge) & (x < edge + 14)] = 0.6  # strands 2 px wide
    body, strand, background = (np.array(c, np.float32) for c in ((150, 90, 50), (240, 230, 200), (20, 30, 60)))
    colour = np.where(alpha[..., None] < 1, strand, body)
    photo = background * (1 - alpha[..., None]) + colour * alpha[..., None]
    photo = np.clip(np.round(photo + np.random.default_rng(2).normal(0, 2, photo.shape)), 0, 255).astype(np.uint8)
    hard = (alpha == 1).astype(np.float32)
    near, far = hard[:456, :456].copy(), hard[64:, 64:].copy()  # a shift of 64 px: tiles are 128
    matte(near, photo[:456, :456])
    matte(far, photo[64:, 64:])
    inner = near[104:416, 104:416]  # 40 px in from both crops' borders
    assert ((inner > 0.05) & (inner < 0.95)).sum() > 500  # strands got their alpha there
    assert np.abs(inner - far[40:352, 40:352]).max() < 1e-4


def test_matte_keeps_a_sharp_edge_sharp_and_a_flat_photo_hard():
    photo = np.full((256, 512, 3), 40, np.uint8)
    photo[:, :200] = (200, 120, 60)
    mask = np.zeros((256, 512), np.float32)
    mask[:, :200] = 1
    sharp = mask.copy()
    matte(sharp, photo)
    assert np.abs(sharp - mask).max() < 0.05
    flat = mask.copy()
    matte(flat, np.full_like(photo, 128))
    assert np.array_equal(flat, mask)


def test_matte_is_a_stage_of_refine_mask():
    photo, alpha = _strand_photo()
    logits = _logits_from(lambda x, y: (300 - x) / 4.0 + 0 * y, 600, 300)
    soft = refine_mask([Patch(logits, (0, 0, 600, 300))], 600, 300, photo)  # on by default
    hard = refine_mask([Patch(logits, (0, 0, 600, 300))], 600, 300, photo, options=Refinement().without(["matte"]))
    assert set(np.unique(hard)) == {0.0, 1.0} and ((soft > 0.05) & (soft < 0.95)).sum() > 100
    assert np.array_equal(soft > 0.5, hard > 0.5)  # the matte softens the edge, it never moves it


def _noisy_disc(noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The darktable end-to-end test's scene, larger: a red disc with a hard (slightly blurred) edge on a
    gradient, with sensor-like noise, and the disc's exact mask."""
    from scipy import ndimage

    height, width, (cx, cy), radius = 480, 720, (300, 240), 150
    y, x = np.mgrid[0:height, 0:width]
    photo = np.stack([40 + 60 * x / width, 40 + 80 * y / height, np.full((height, width), 70.0)], axis=-1)
    disc = (x - cx) ** 2 + (y - cy) ** 2 < radius ** 2
    photo[disc] = (230, 40, 40)
    photo = ndimage.gaussian_filter(photo, (1.0, 1.0, 0)) + np.random.default_rng(seed).normal(0, noise, photo.shape)
    return np.clip(np.round(photo), 0, 255).astype(np.uint8), disc


@pytest.mark.parametrize("noise", [3.0, 8.0])
def test_matte_adds_no_opacity_beyond_a_hard_edge(noise):
    """A hard edge stays hard: a strong edit through the mask (+2 EV in darktable) would show any opacity the
    matte left a few pixels outside the object, and noise alone must not make any."""
    from scipy import ndimage

    photo, disc = _noisy_disc(noise, seed=int(noise))
    mask = disc.astype(np.float32)
    matte(mask, photo)
    beyond = ~ndimage.binary_dilation(disc, iterations=4)
    assert mask[beyond].max() < 0.02
    unfloored = disc.astype(np.float32)
    matte(unfloored, photo, floor=0.0)  # without the noise floor, specks joined to the edge stay
    assert (unfloored[beyond] > 0).sum() > 20


def test_matte_gives_a_colour_past_the_object_no_opacity():
    """A bright patch beside a dark object's edge is no mix of the object and the background (a mix lies between
    their colours): it stays out instead of getting the most the matte may give outside, 0.5."""
    photo = np.full((256, 512, 3), 10, np.uint8)
    photo[:, :203] = (60, 60, 120)  # an edge off the matte's working grid (4 px), as edges are
    photo[100:110, 209:219] = 250
    mask = np.zeros((256, 512), np.float32)
    mask[:, :203] = 1
    matte(mask, photo)
    assert mask[100:110, 209:219].max() < 0.02 and mask[:, :203].min() > 0.5
