"""End-to-end: the lighttable action "subject masks for selected images" in the real darktable.

Two photos, one edited with a rotation and a crop (its mask must still be in the sensor frame), go through
``subject_masks`` as the button runs it: each is exported in the raster frame like "select object", the helper's
``segment --subject`` finds the red disc with no clicks, and on darktable 5.4 the mask is attached.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dtmask.imageio import read_pfm
from dtmask.luainstall import install

from .dtproxy import HelperProxy
from .test_darktable_e2e import (CENTER, DT_SID, H, HELPER, RADIUS, W, _sid_ready, launch_darktable, left_behind,
                                 lua_string, make_photo)

pytestmark = pytest.mark.darktable

SUBJECT_LUA = """
local dt = require "darktable"
local s = package.loaded["dtmask/dtmask"]
local out = {{}}
local ok, err = pcall(function()
  local images = {{}}
  for i, path in ipairs({{ {images} }}) do images[i] = dt.database.import(path) end
  out.result = s.dtmask.subject_masks(images)
  out.mask = s.dtmask.last.mask
end)
local f = io.open({result}, "w")
f:write(string.format("ok=%s\\nerr=%s\\nresult=%s\\napi=%s\\n", tostring(ok), tostring(err), tostring(out.result),
  dt.configuration.api_version_string))
f:close()
os.exit(0)
"""


def run_subject(tmp: Path, with_model: Path, in_chroot: bool) -> tuple[dict, list, Path]:
    folders = [tmp / "a", tmp / "b"]
    for f in folders:
        f.mkdir()
    photos = [make_photo(folders[0], 6), make_photo(folders[1], None)]
    cfg, masks, scratch = tmp / "config", tmp / "mask root", tmp / "dt-tmp"
    for d in (cfg, masks, scratch):
        d.mkdir()
    install(cfg)
    (cfg / "darktablerc").write_text(f"plugins/darkroom/segments/def_path={masks}\n", encoding="utf-8")
    result = tmp / "result.txt"
    with open(cfg / "luarc", "a", encoding="utf-8") as f:
        f.write(SUBJECT_LUA.format(images=", ".join(lua_string(p) for p in photos), result=lua_string(result)))
    env = dict(os.environ, DTMASK_HOME=str(with_model))
    with HelperProxy(tmp / "proxy", HELPER, env) as proxy:
        proc = launch_darktable(cfg, {"DTMASK_HELPER": str(proxy.shim), "TMPDIR": str(scratch)}, in_chroot,
                                scripts_ran=lambda: bool(proxy.calls))
        calls = proxy.calls
    assert result.exists(), f"darktable did not finish the test script:\n{proc.stdout[-3000:]}"
    assert "LUA ERROR" not in proc.stdout + proc.stderr, proc.stdout[-3000:]
    report = dict(line.split("=", 1) for line in result.read_text().splitlines())
    assert report["ok"] == "true" and report["result"] == "true", (report, proc.stdout[-3000:])
    assert left_behind(scratch) == [], "temporary exports were left behind"
    return report, calls, masks / "dtmask"


def check_masks(calls, folder: Path) -> None:
    subject_calls = [c for c in calls if c[0] == "segment"]
    assert len(subject_calls) == 2 and all("--subject" in c for c in subject_calls), subject_calls
    masks = sorted(p for p in folder.iterdir() if p.suffix == ".pfm")
    assert len(masks) == 2, list(folder.iterdir())
    y, x = np.mgrid[0:H, 0:W]
    disc = (x - CENTER[0]) ** 2 + (y - CENTER[1]) ** 2 < RADIUS ** 2
    for path in masks:
        mask = read_pfm(path) > 0.5
        assert mask.shape == (H, W)  # the sensor frame, also for the rotated and cropped photo
        assert (mask & disc).sum() / (mask | disc).sum() > 0.85, path.name


@pytest.mark.skipif(shutil.which("darktable") is None or shutil.which("xvfb-run") is None,
                    reason="darktable or xvfb-run is not installed (apt-get install darktable xvfb xauth)")
def test_darktable_42_subject_masks(tmp_path, with_model):
    report, calls, folder = run_subject(tmp_path, with_model, in_chroot=False)
    assert report["api"].startswith("9.0")
    check_masks(calls, folder)


@pytest.mark.skipif(not DT_SID.exists() or not _sid_ready(),
                    reason="the darktable 5.4 chroot is not set up (../shared/darktable/dt-sid setup)")
def test_darktable_54_subject_masks_attached(tmp_path, with_model):
    report, calls, folder = run_subject(tmp_path, with_model, in_chroot=True)
    assert report["api"].startswith("9.6")
    check_masks(calls, folder)
    # one helper run prepares each image's styles (the guide export and the attach style), one segments it; the
    # panel's own calls (its model list, the image's masks) aside
    panel = (["models", "list"], ["lua", "masks"])
    assert sorted(c[0] for c in calls if c[:2] not in panel) == ["lua", "lua", "segment", "segment"]
    assert sum(c[:2] == ["lua", "prepare"] for c in calls) == 2
