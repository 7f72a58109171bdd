"""The picker on a small preview while the full-resolution guide is still being exported (the darktable route).

The preview is the photo as displayed (EXIF orientation N), at most 1024 pixels; the guide is the raster frame at
full size and arrives later. The mask must come out at the guide's size, in its frame, on the clicked object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from skimage.transform import resize

import dtmask
from dtmask.errors import DtmaskError
from dtmask.geometry import ORIENTATIONS, file_to_display, orient_array
from dtmask.imageio import from_array
from dtmask.picker.guide import Guide, wait_for
from scenes import iou, two_objects

pytest.importorskip("tkinter")

W, H = 1800, 1000


@pytest.fixture(scope="module")
def photo():
    """A 16-bit raster-frame photo (the guide) with the disc at the left."""
    return two_objects(W, H, dtype=np.uint16, seed=3)


def preview_of(raster: np.ndarray, n: int, side: int = 1024) -> np.ndarray:
    """What darktable's small export gives: the photo turned as displayed, longest side `side`, another resampler."""
    shown = orient_array(raster, n)
    scale = side / max(shown.shape[:2])
    size = (round(shown.shape[0] * scale), round(shown.shape[1] * scale))
    return (resize(shown, size, anti_aliasing=True, preserve_range=True) + 0.5).astype(np.uint16)


@pytest.mark.parametrize("n", ORIENTATIONS)
def test_guide_finds_the_orientation_and_maps_prompts_and_masks(photo, tmp_path, n):
    preview = from_array(preview_of(photo.image, n))
    tifffile.imwrite(tmp_path / "guide.tif", photo.image)
    guide = Guide.load(tmp_path / "guide.tif", preview)
    assert guide.orientation == n
    shown = orient_array(photo.image, n)
    assert np.array_equal(guide.display.pixels, shown) and guide.raster.width == W
    x, y = photo.centres["disc"]
    u, v = file_to_display(x, y, n, W, H)
    sx, sy = preview.width / shown.shape[1], preview.height / shown.shape[0]
    prompts = dtmask.Prompts(points=[(u * sx, v * sy)], box=(u * sx - 5, v * sy - 9, u * sx + 5, v * sy + 9))
    back = guide.to_raster(guide.from_preview(prompts, preview))
    assert np.allclose(back.points, [(x, y)], atol=1e-6)
    x0, y0, x1, y1 = back.box
    size = (x1 - x0, y1 - y0) if n < 5 else (y1 - y0, x1 - x0)  # display (width, height) of the box
    assert x0 < x < x1 and y0 < y < y1 and np.allclose(size, (10 / sx, 18 / sy), atol=1.01)
    mask = guide.mask_to_raster(orient_array(photo.masks["disc"], n))
    assert mask.flags.c_contiguous and np.array_equal(mask, photo.masks["disc"])


def test_wait_for_returns_once_renamed_into_place_and_reports_darktable_errors(tmp_path):
    target = tmp_path / "guide.tif"
    part = tmp_path / "guide-part.tif"
    part.write_bytes(b"x")
    threading.Timer(0.3, lambda: part.rename(target)).start()
    assert wait_for(target, 10) == target
    failed = tmp_path / "other.tif"
    (tmp_path / "other.tif.error").write_text("darktable could not export the image\n")
    with pytest.raises(DtmaskError, match="^darktable could not export the image$"):
        wait_for(failed, 10)
    with pytest.raises(DtmaskError, match="within 0.2 s"):
        wait_for(tmp_path / "never.tif", 0.2)
    assert wait_for(tmp_path / "never.tif", 0) == tmp_path / "never.tif"  # no wait: the reader reports it


def run_pick(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dtmask", "pick", *args], capture_output=True, text=True,
                          timeout=180, cwd=cwd, env=dict(os.environ))


@pytest.mark.parametrize("n", [1, 6, 8])
def test_pick_on_a_preview_writes_the_full_resolution_mask_in_the_raster_frame(xdisplay, with_model, photo,
                                                                               tmp_path, n):
    """Apply comes before the guide is there: the picker waits for it, then writes the mask at its size."""
    preview = preview_of(photo.image, n)
    tifffile.imwrite(tmp_path / "preview.tif", preview)
    tifffile.imwrite(tmp_path / "guide-part.tif", photo.image)
    x, y = photo.centres["disc"]
    u, v = file_to_display(x, y, n, W, H)
    dw = H if n >= 5 else W
    scale = preview.shape[1] / dw
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"point": [u * scale, v * scale]}, {"apply": True}]))
    timer = threading.Timer(4.0, lambda: (tmp_path / "guide-part.tif").rename(tmp_path / "guide.tif"))
    timer.start()
    out = tmp_path / "mask.pfm"
    proc = run_pick(["preview.tif", "--guide", "guide.tif", "--wait", "60", "-o", str(out), "--script",
                     str(script), "--json"], tmp_path)
    timer.join()
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["width"], data["height"], data["orientation"]) == (W, H, n)
    assert np.allclose(data["prompts"]["points"], [[x, y]], atol=2.5)
    timeline = data["timeline"]
    assert timeline["start"] <= timeline["window"] <= timeline["first_mask"] <= timeline["apply"]
    assert timeline["apply"] <= timeline["written"]
    mask = dtmask.read_mask(out)
    assert mask.shape == (H, W)
    assert iou(mask > 0.5, photo.masks["disc"]) > 0.9


def test_a_guide_darktable_failed_to_export_ends_the_pick_with_its_message(xdisplay, with_model, photo, tmp_path):
    tifffile.imwrite(tmp_path / "preview.tif", preview_of(photo.image, 1))
    (tmp_path / "guide.tif.error").write_text("darktable: export failed (disk full)")
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"point": [200, 280]}, {"apply": True}]))
    out = tmp_path / "mask.pfm"
    proc = run_pick(["preview.tif", "--guide", "guide.tif", "--wait", "60", "-o", str(out), "--script",
                     str(script)], tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == "dtmask: error: darktable: export failed (disk full)"
    assert not out.exists()


def test_a_guide_of_another_shape_is_refused(xdisplay, with_model, photo, tmp_path):
    tifffile.imwrite(tmp_path / "preview.tif", preview_of(photo.image, 1))
    tifffile.imwrite(tmp_path / "guide.tif", photo.image[:, : W // 2])
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"point": [200, 280]}, {"apply": True}]))
    proc = run_pick(["preview.tif", "--guide", "guide.tif", "-o", "mask.pfm", "--script", str(script)], tmp_path)
    assert proc.returncode == 1 and "wrong shape" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "mask.pfm").exists()
    proc = run_pick(["preview.tif", "--guide", "guide.tif", "--orientation", "6", "-o", "mask.pfm"], tmp_path)
    assert proc.returncode == 2 and "--orientation goes without --guide" in proc.stderr


def test_cancel_while_the_guide_is_still_exporting_exits_3_at_once(xdisplay, with_model, photo, tmp_path):
    """Esc before darktable has written the guide: exit 3 (no crash from a thread still waiting or encoding)."""
    tifffile.imwrite(tmp_path / "preview.tif", preview_of(photo.image, 6))
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"point": [200, 280]}, {"cancel": True}]))
    started = time.monotonic()
    proc = run_pick(["preview.tif", "--guide", "guide.tif", "--wait", "600", "-o", "mask.pfm", "--script",
                     str(script)], tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip() == "dtmask: error: cancelled in the picker; no mask written"
    assert time.monotonic() - started < 120 and not (tmp_path / "mask.pfm").exists()


@pytest.mark.parametrize("n", [6, 8])
def test_editing_reopens_on_the_saved_raster_frame_prompts_and_adds_a_click(xdisplay, with_model, photo, tmp_path, n):
    """The darktable route's edit: prompts saved in the raster frame at full size are shown on the turned,
    scaled preview, a negative click is added there, and the saved prompts come back in the raster frame."""
    preview = preview_of(photo.image, n)
    tifffile.imwrite(tmp_path / "preview.tif", preview)
    tifffile.imwrite(tmp_path / "guide.tif", photo.image)
    x, y = photo.centres["disc"]
    bx, by = photo.centres["box"]
    saved = tmp_path / "first.json"
    saved.write_text(json.dumps({"width": W, "height": H, "orientation": n,
                                 "prompts": {"points": [[x, y]], "negatives": [], "box": None}}))
    u, v = file_to_display(bx, by, n, W, H)
    scale = preview.shape[1] / (H if n >= 5 else W)
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"negative": [u * scale, v * scale]}]))
    out, again = tmp_path / "mask.pfm", tmp_path / "again.json"
    proc = run_pick(["preview.tif", "--guide", "guide.tif", "-o", str(out), "--script", str(script), "--json",
                     "--prompts", str(saved), "--save-prompts", str(again)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = json.loads(again.read_text())
    assert (written["width"], written["height"], written["orientation"]) == (W, H, n)
    assert np.allclose(written["prompts"]["points"], [[x, y]], atol=2.5)
    assert np.allclose(written["prompts"]["negatives"], [[bx, by]], atol=2.5)
    assert iou(dtmask.read_mask(out) > 0.5, photo.masks["disc"]) > 0.9
    # prompts saved while the photo was shown otherwise would land elsewhere: refused, nothing written
    saved.write_text(json.dumps(dict(written, orientation=1)))
    out.unlink()
    proc = run_pick(["preview.tif", "--guide", "guide.tif", "-o", str(out), "--script", str(script),
                     "--prompts", str(saved)], tmp_path)
    assert proc.returncode == 1 and "turned otherwise" in proc.stderr and not out.exists()
