"""End-to-end: the real darktable runs the script in lua/dtmask/ on a photo edited with a rotation and a crop.

- darktable 4.2.1 (Debian 12, host): the mask lands under the raster-mask root, in the sensor frame, with the object
  where it is in the file; no rasterfile module, so nothing is attached.
- darktable 5.4.1 (dt-sid chroot): the mask is attached through a generated style, and an export with exposure
  +2 EV blended through it changes the image inside the object only.

Both run darktable under Xvfb on a throwaway --configdir, with the script installed by `dtmask lua install` and the
prompts given as a `dtmask pick --script` in displayed-image coordinates. The helper runs on the host through HelperProxy
(the chroot has no Python).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import tifffile

from dtmask import dtstyle, geometry, imageio, masks
from dtmask.bench.dng import write_dng
from dtmask.imageio import read_pfm
from dtmask.luainstall import install

from .dtproxy import HelperProxy
from .luaanswer import lua_reads

pytestmark = pytest.mark.darktable

ROOT = Path(__file__).resolve().parents[2]
DT_SID = ROOT.parent / "shared" / "darktable" / "dt-sid"
HELPER = [sys.executable, "-m", "dtmask"]
W, H = 360, 240
CENTER, RADIUS = (100, 70), 28
TIMEOUT = 240


def make_photo(folder: Path, flip_param: int | None, exif: int = 1, raw: bool = False) -> Path:
    """A TIFF (or a raw: a Bayer DNG with a sensor border) with a red disc at CENTER and EXIF orientation `exif`;
    with `flip_param`, an XMP sidecar that rotates it (darktable's flip module) and crops it, else no sidecar: a
    never-edited photo."""
    y, x = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = 40 + 60 * x // W
    img[..., 1] = 40 + 80 * y // H
    img[..., 2] = 70
    img[(x - CENTER[0]) ** 2 + (y - CENTER[1]) ** 2 < RADIUS ** 2] = (230, 40, 40)
    photo = folder / ("my photo 'ü'." + ("dng" if raw else "tif"))  # spaces, a quote and non-ASCII in the name
    if raw:
        write_dng(photo, img, orientation=exif)
    else:
        tifffile.imwrite(photo, img, photometric="rgb", extratags=[(274, "H", 1, exif, True)])
    if flip_param is None:
        return photo
    blend = "gz11eJxjYGBgkGAAgRNODGiAEV0AJ2iwh+CRyscOAAdeGQQ="
    items = [("flip", 2, struct.pack("<i", flip_param)), ("crop", 1, struct.pack("<ffffii", .1, .1, .8, .9, 0, 0))]
    lis = "".join(
        f'<rdf:li darktable:num="{i}" darktable:operation="{op}" darktable:enabled="1" '
        f'darktable:modversion="{v}" darktable:params="{p.hex()}" darktable:multi_name="" '
        f'darktable:multi_priority="0" darktable:blendop_version="11" darktable:blendop_params="{blend}"/>'
        for i, (op, v, p) in enumerate(items))
    (folder / (photo.name + ".xmp")).write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:darktable="http://darktable.sf.net/" darktable:xmp_version="4"
 darktable:raw_params="0" darktable:auto_presets_applied="1" darktable:history_end="2"
 darktable:iop_order_version="2"><darktable:masks_history><rdf:Seq/></darktable:masks_history>
<darktable:history><rdf:Seq>{lis}</rdf:Seq></darktable:history></rdf:Description></rdf:RDF></x:xmpmeta>
""", encoding="utf-8")
    return photo


TEST_LUA = """
local T = {{ image = {image}, before = {before}, after = {after}, result = {result}, darkroom = {darkroom},
  style = {style}, cancel_at = {cancel_at} }}
local dt = require "darktable"
local s = package.loaded["dtmask/dtmask"]
local out = {{}}
local img, fmt
s.dtmask.on_stage = function(name)  -- where the bridge got to, for a run that does not finish
  local f = io.open(T.result .. ".stages", "a")
  f:write(name, "\\n")
  f:close()
  if name == T.cancel_at then s.dtmask.cancel() end  -- as the job bar's cancel button would
end

local function finish(ok, err)
  local f = io.open(T.result, "w")
  f:write(string.format("ok=%s\\nerr=%s\\nselected=%s\\nmask=%s\\nview=%s\\napi=%s\\n", tostring(ok), tostring(err),
    tostring(out.selected), tostring(out.mask), tostring(out.view), tostring(dt.configuration.api_version_string)))
  f:close()
  os.exit(0)
end

local function select_and_export()
  out.view = dt.gui.current_view().id
  out.selected = s.dtmask.select_object(img)
  out.mask = s.dtmask.last.mask
  if T.darkroom then  -- leaving the darkroom writes its history: the attached mask must survive that
    dt.gui.current_view(dt.gui.views.lighttable)
    dt.control.sleep(1000)
  end
  fmt:write_image(img, T.after)
end

local ok, err = pcall(function()
  img = dt.database.import(T.image)
  if T.style ~= "" then  -- one of darktable's own styles in the history, found by a part of its name
    local style
    for i = 1, #dt.styles do
      if dt.styles[i].name:find(T.style, 1, true) then style = dt.styles[i] end
    end
    assert(style, "no darktable style named like " .. T.style)
    dt.styles.apply(style, img)
  end
  fmt = dt.new_format("tiff")
  fmt.bpp = 16
  fmt.max_width = 0
  fmt.max_height = 0
  fmt:write_image(img, T.before)
  if not T.darkroom then return select_and_export() end
  dt.control.dispatch(function()
    local ok2, err2 = pcall(function()
      dt.control.sleep(1000)
      dt.gui.views.darkroom.display_image(img)
      dt.gui.current_view(dt.gui.views.darkroom)
      dt.control.sleep(2000)
      select_and_export()
    end)
    finish(ok2, err2)
  end)
end)
if not ok or not T.darkroom then finish(ok, err) end
"""


def lua_string(s: str | Path) -> str:
    return json.dumps(str(s), ensure_ascii=False)


def left_behind(scratch: Path) -> list[Path]:
    """The files a run left in darktable's temporary folder, but for darktable's own crash reports: the test
    scripts end darktable with os.exit while its threads still run, and darktable 5.4.1 now and then crashes in
    that teardown (an empty darktable_bt_*.txt, seen once in CI, after the test's result was written)."""
    return [p for p in scratch.iterdir() if not (p.name.startswith("darktable_bt_") and p.suffix == ".txt")]


def launch_darktable(cfg: Path, dt_env: dict, in_chroot: bool,
                     scripts_ran: Callable[[], bool]) -> subprocess.CompletedProcess:
    """Run darktable under Xvfb on the config folder until its Lua test script exits (host, or the 5.4 chroot).

    darktable 5.4.1 now and then hangs while it starts, before any Lua runs (every thread waiting; seen once in
    CI): when a run times out and ``scripts_ran()`` says the scripts never started, darktable is started once more.
    """
    cmd = ["xvfb-run", "-a", "darktable", "--configdir", str(cfg), "--library", ":memory:", "-d", "lua"]
    if in_chroot:
        cmd = [str(DT_SID), "run", "env", *(f"{k}={v}" for k, v in dt_env.items()), *cmd]
        run_env = None
    else:
        run_env = dict(os.environ, **dt_env)
    try:
        return _run_group(cmd, run_env)
    except subprocess.TimeoutExpired:
        if scripts_ran():
            raise
    return _run_group(cmd, run_env)


def _run_group(cmd: list[str], env: dict | None) -> subprocess.CompletedProcess:
    """Run ``cmd`` in a process group of its own; past TIMEOUT the whole group is killed, so no darktable or Xvfb
    outlives its test (and the chroot's mounts can be released)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(cmd, TIMEOUT, output=out, stderr=err) from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_darktable(tmp: Path, with_model: Path, flip_param: int | None, in_chroot: bool,
                  exposure: float | None = None, exif: int = 1, darkroom: bool = False, raw: bool = False,
                  style: str = "", cancel_at: str = "", escape: bool = False) -> dict:
    """Set up config, photo, prompts and proxy; run darktable once; return its report and paths."""
    # darktable flip params -> the EXIF orientation darktable shows (checked on its exports)
    n_expected = {6: 8, 3: 3, None: exif}[flip_param]
    photo = make_photo(tmp, flip_param, exif, raw)
    cfg, masks, scratch = tmp / "config", tmp / "mask root", tmp / "dt-tmp"
    for d in (cfg, masks, scratch):
        d.mkdir()
    install(cfg)
    (cfg / "darktablerc").write_text(f"plugins/darkroom/segments/def_path={masks}\n", encoding="utf-8")
    paths = {k: tmp / f"{k}.tif" for k in ("before", "after")}
    paths["result"] = tmp / "result.txt"
    with open(cfg / "luarc", "a", encoding="utf-8") as f:
        f.write(TEST_LUA.format(image=lua_string(photo), darkroom=str(darkroom).lower(), style=lua_string(style),
                                cancel_at=lua_string(cancel_at),
                                **{k: lua_string(v) for k, v in paths.items()}))
    u, v = geometry.file_to_display(*CENTER, n_expected, W, H)
    script = tmp / "prompts.json"
    script.write_text(json.dumps([{"point": [u, v]}] + ([{"cancel": True}] if escape else [])))
    env = dict(os.environ, DTMASK_HOME=str(with_model))
    with HelperProxy(tmp / "proxy", HELPER, env) as proxy:
        dt_env = {"DTMASK_HELPER": str(proxy.shim), "DTMASK_PICK_SCRIPT": str(script), "TMPDIR": str(scratch)}
        if exposure is not None:
            dt_env["DTMASK_STYLE_EXPOSURE"] = str(exposure)
        try:
            proc = launch_darktable(cfg, dt_env, in_chroot, scripts_ran=lambda: bool(proxy.calls))
        except subprocess.TimeoutExpired as exc:
            stages = paths["result"].with_suffix(".txt.stages")
            reached = stages.read_text().split() if stages.exists() else []
            log = (exc.stdout or "")[-3000:]
            pytest.fail(f"darktable did not finish; stages reached {reached}, helper calls {proxy.calls}:\n{log!r}")
        calls, outputs = proxy.calls, proxy.outputs
    assert paths["result"].exists(), f"darktable did not finish the test script:\n{proc.stdout[-3000:]}"
    assert "LUA ERROR" not in proc.stdout + proc.stderr, proc.stdout[-3000:]
    report = dict(line.split("=", 1) for line in paths["result"].read_text().splitlines())
    selected = not (cancel_at or escape)
    assert report["ok"] == "true" and report["selected"] == str(selected).lower(), (report, proc.stdout[-3000:])
    if not selected:
        return {"report": report, "masks": masks, "scratch": scratch, "photo": photo, "log": proc.stdout,
                "calls": calls, **paths}
    panel = (["models", "list"], ["lua", "masks"])  # the panel's model list and the image's masks
    runs = [(i, c[:2]) for i, c in enumerate(calls) if c[:2] not in panel]
    assert [c for _, c in runs] == [["lua", "prepare"], ["pick", runs[1][1][1]]], calls  # two helper runs
    picked = lua_reads(outputs[runs[1][0]])
    assert picked["orientation"] == n_expected, picked
    return {"report": report, "masks": masks, "scratch": scratch, "photo": photo, "log": proc.stdout,
            "picked": picked, **paths}


def check_mask(run: dict) -> np.ndarray:
    """The mask is a new file under <root>/dtmask/, in the file frame, covering the disc."""
    mask_path = Path(run["report"]["mask"])
    assert mask_path.parent == run["masks"] / "dtmask"
    assert mask_path.name.startswith("my photo 'ü'_") and mask_path.suffix == ".pfm"
    mask = read_pfm(mask_path) > 0.5
    assert mask.shape == (H, W)
    y, x = np.mgrid[0:H, 0:W]
    disc = (x - CENTER[0]) ** 2 + (y - CENTER[1]) ** 2 < RADIUS ** 2
    iou = (mask & disc).sum() / (mask | disc).sum()
    assert iou > 0.85, iou
    assert left_behind(run["scratch"]) == [], "temporary exports were left behind"
    index = f"{mask_path.name.split('_dtmask-1_')[0]}.dtmask.json"  # the photo's mask index
    assert sorted(p.name for p in mask_path.parent.iterdir()) == sorted(
        [mask_path.name, mask_path.with_suffix(".json").name, index]), "the mask style was left behind"
    sidecars = [p.name for p in run["photo"].parent.glob("*.xmp")]
    assert all(name == run["photo"].name + ".xmp" for name in sidecars), sidecars
    return mask


needs_42 = pytest.mark.skipif(shutil.which("darktable") is None or shutil.which("xvfb-run") is None,
                              reason="darktable or xvfb-run is not installed (apt-get install darktable xvfb xauth)")


def _sid_ready() -> bool:
    root = subprocess.run(["bash", str(DT_SID), "root"], capture_output=True, text=True).stdout.strip()
    return bool(root) and Path(root, ".ready").exists()


needs_54 = pytest.mark.skipif(not DT_SID.exists() or not _sid_ready(),
                              reason="the darktable 5.4 chroot is not set up (../shared/darktable/dt-sid setup)")


@needs_42
@pytest.mark.parametrize("flip_param, exif", [(6, 1), (None, 6)], ids=["edited-rotated-cropped", "exif-rotated"])
def test_darktable_42_writes_mask_in_sensor_frame(tmp_path, with_model, flip_param, exif):
    run = run_darktable(tmp_path, with_model, flip_param=flip_param, in_chroot=False, exif=exif)
    check_mask(run)
    assert run["report"]["api"].startswith("9.0")


@needs_42
@pytest.mark.parametrize("exif", [1, 6, 8])
def test_darktable_42_raw_mask_lands_on_the_object_in_the_raster_frame(tmp_path, with_model, exif):
    """A Bayer DNG with a sensor border: the mask is the active area's size, the disc where the sensor saw it."""
    run = run_darktable(tmp_path, with_model, flip_param=None, in_chroot=False, exif=exif, raw=True)
    check_mask(run)
    assert run["picked"]["width"] == W and run["picked"]["height"] == H


def check_exposure_only_inside(run: dict, spread_px: int = 4) -> None:
    """The export with +2 EV blended through the attached mask differs from the one before only on the disc (and
    within `spread_px` of it: demosaic and later modules spread a change a few pixels)."""
    before = tifffile.imread(run["before"]).astype(np.float64)
    after = tifffile.imread(run["after"]).astype(np.float64)
    assert before.shape == after.shape
    # where the disc is in the exported (rotated, cropped) frame: the red pixels of the "before" export
    red = (before[..., 0] - before[..., 1]) > 0.5 * (before[..., 0] - before[..., 1]).max()
    changed = np.abs(after - before).max(axis=2) > 1000
    inside = red.sum()
    assert changed[red].mean() > 0.9, "the +2 EV did not reach the object"
    from scipy import ndimage
    near = ndimage.binary_dilation(red, iterations=spread_px)
    assert changed[~near].sum() == 0, f"{changed[~near].sum()} pixels changed outside the object ({inside} inside)"


@needs_54
@pytest.mark.parametrize("darkroom", [False, True], ids=["lighttable", "darkroom"])
def test_darktable_54_attaches_mask(tmp_path, with_model, darkroom):
    run = run_darktable(tmp_path, with_model, flip_param=3, in_chroot=True, exposure=2.0, darkroom=darkroom)
    check_mask(run)
    assert run["report"]["api"].startswith("9.6"), run["report"]
    assert run["report"]["view"] == ("darkroom" if darkroom else "lighttable")
    check_exposure_only_inside(run)


@needs_54
@pytest.mark.parametrize("width, height", [(360, 240), (360, 24), (36, 24), (1000, 240)],
                         ids=["no-zero", "one-zero", "two-zeros", "three-zeros"])
def test_darktable_54_reads_the_pfm_scale_with_the_zeros_that_align_its_pixels(tmp_path, width, height):
    """dtmask's PFM header writes its scale -1.0 with 0-3 more zeros so that a mask mapped from the file is
    aligned (imageio.pfm_header): darktable-cli 5.4.1 attaches each such mask exactly where it is 1."""
    header = imageio.pfm_header(width, height)
    assert header.endswith(b"-1.0" + b"0" * (len(header) - len(f"Pf\n{width} {height}\n-1.0\n")) + b"\n")
    photo, mask_file, out = tmp_path / "in.tif", tmp_path / "in.pfm", tmp_path / "out.tif"
    tifffile.imwrite(photo, np.full((height, width, 3), 8000, np.uint16), photometric="rgb")
    mask = np.zeros((height, width), np.float32)
    mask[height // 3:, : width // 2] = 1.0  # the lower left: a flip or a shift shows
    imageio.write_mask(mask_file, mask)
    style_file, style = dtstyle.write_for_mask(mask_file, exposure_ev=2.0)
    done = subprocess.run([str(DT_SID), "run", "darktable-cli", str(photo), str(out), "--style", style,
                           "--style-overwrite", "--apply-custom-presets", "false", "--core", "--configdir",
                           str(tmp_path / "config"), "--conf", "plugins/imageio/format/tiff/bpp=16", "--luacmd",
                           f"require('darktable').styles.import({lua_string(style_file)})"],
                          cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert out.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    exported = tifffile.imread(out)[..., 0].astype(np.float64)
    assert np.array_equal(exported > exported.min(), mask > 0.5)


@needs_54
@pytest.mark.parametrize("exif, style", [(6, ""), (8, "sharpen finest details")], ids=["raw", "raw-heavy-module"])
def test_darktable_54_raw_attached_mask_changes_only_the_object(tmp_path, with_model, exif, style):
    """On a raw, also with darktable's own "sharpen finest details" (diffuse or sharpen) in the history: the
    exports the picker gets leave that module out, the attached mask still lands on the object."""
    run = run_darktable(tmp_path, with_model, flip_param=None, in_chroot=True, exposure=2.0, exif=exif, raw=True,
                        style=style)
    check_mask(run)
    # diffuse or sharpen runs after the exposure in the pipe and spreads its change about 5 pixels
    check_exposure_only_inside(run, spread_px=8 if style else 4)


@needs_54
@pytest.mark.parametrize("how", ["escape", "job-bar-at-preview", "job-bar-at-prepared"])
def test_darktable_54_cancel_leaves_nothing_behind(tmp_path, with_model, how):
    """Esc in the picker, or the job bar's cancel while darktable exports: no mask, no temporary file, the image's
    history as it was (its export is unchanged)."""
    run = run_darktable(tmp_path, with_model, flip_param=None, in_chroot=True, exposure=2.0, exif=6, raw=True,
                        escape=how == "escape", cancel_at="" if how == "escape" else how.rsplit("-", 1)[1])
    assert left_behind(run["scratch"]) == [], "temporary exports were left behind"
    assert not any(run["masks"].rglob("*.*")), list(run["masks"].rglob("*"))
    before = tifffile.imread(run["before"])
    assert np.array_equal(before, tifffile.imread(run["after"])), "the image's history changed"
    if how == "job-bar-at-prepared":  # cancelled before the picker started: it never does
        assert [c[0] for c in run["calls"] if c[:2] != ["models", "list"]] == ["lua"]


STARTUP_LUA = """
local dt = require "darktable"
dt.control.dispatch(function()
  dt.control.sleep(3000)
  local start_view = dt.gui.current_view().id
  dt.gui.current_view(dt.gui.views.lighttable)
  dt.control.sleep(2000)
  local ok, lib = pcall(function() return dt.gui.libs["dtmask"] end)
  local f = io.open({result}, "w")
  f:write(string.format("start=%s\\npanel=%s\\n", start_view, tostring(ok and lib ~= nil)))
  f:close()
end)
"""


@pytest.mark.skipif(shutil.which("darktable") is None or shutil.which("xvfb-run") is None,
                    reason="darktable or xvfb-run is not installed (apt-get install darktable xvfb xauth)")
def test_darktable_42_starts_straight_into_darkroom(tmp_path, with_model):
    """`darktable photo.tif` opens the darkroom while the script loads: registering the panel then crashed 4.2.

    os.exit from a dispatched Lua function hangs darktable 4.2, so the test ends darktable itself once the
    report is written (or darktable died).
    """
    photo = make_photo(tmp_path, None)
    cfg = tmp_path / "config"
    cfg.mkdir()
    install(cfg)
    result = tmp_path / "result.txt"
    with open(cfg / "luarc", "a", encoding="utf-8") as f:
        f.write(STARTUP_LUA.format(result=lua_string(result)))
    log_path = tmp_path / "darktable.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(["xvfb-run", "-a", "darktable", "--configdir", str(cfg), "--library", ":memory:",
                                 str(photo)], cwd=ROOT, env=dict(os.environ, DTMASK_HOME=str(with_model)),
                                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + TIMEOUT
            while not result.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)  # let a crash that races the report show up in the log
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log = log_path.read_text(errors="replace")
    assert "backtrace written" not in log and "signal handler called" not in log, log[-3000:]
    assert "LUA ERROR" not in log, log[-3000:]
    assert result.exists(), f"darktable did not finish the test script:\n{log[-3000:]}"
    report = dict(line.split("=", 1) for line in result.read_text().splitlines())
    assert report == {"start": "darkroom", "panel": "true"}, report


# --- several named masks on one photo ------------------------------------------------------------------------

DISCS = {"a": (70, 70), "b": (180, 170), "c": (290, 70)}

NAMED_LUA = """
local T = {{ image = {image}, script = {script}, out = {out}, steps = {steps}, probe = {probe} }}
local dt = require "darktable"
local s = package.loaded["dtmask/dtmask"].dtmask
local report = {{}}
local ok, err = pcall(function()
  local img = dt.database.import(T.image)
  local fmt = dt.new_format("tiff")
  fmt.bpp = 16
  fmt:write_image(img, T.out .. "/step0.tif")
  for i, step in ipairs(T.steps) do  -- {{name, "new" | "edit" | "remove", script steps as JSON}}
    local f = io.open(T.script, "w")
    f:write(step[3])
    f:close()
    local done
    if step[2] == "remove" then done = s.remove_mask(img, step[1])
    else done = s.select_object(img, step[1], step[2] == "edit") end
    report[#report + 1] = string.format("%d=%s %s", i, tostring(done), s.last.mask)
    fmt:write_image(img, T.out .. "/step" .. i .. ".tif")
  end
  if T.probe ~= "" then  -- a style of the test's own: which mask does rasterfile instance 1 read?
    dt.styles.import(T.probe)
    for i = 1, #dt.styles do
      if dt.styles[i].name == "dtmask test probe" then dt.styles.apply(dt.styles[i], img) end
    end
    fmt:write_image(img, T.out .. "/probe.tif")
  end
end)
local f = io.open(T.out .. "/result.txt", "w")
f:write(string.format("ok=%s\\nerr=%s\\n%s\\n", tostring(ok), tostring(err), table.concat(report, "\\n")))
f:close()
os.exit(0)
"""


def run_named(tmp: Path, with_model: Path, in_chroot: bool, steps: list[tuple[str, str, list]]) -> dict:
    """One darktable session selecting (editing, removing) named masks in turn on a raw photo with three red
    discs; each step's export and the photo's mask index."""
    y, x = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 40 + 60 * x // W, 40 + 80 * y // H, 70
    for cx, cy in DISCS.values():
        img[(x - cx) ** 2 + (y - cy) ** 2 < RADIUS ** 2] = (230, 40, 40)
    photo = tmp / "two discs.dng"
    write_dng(photo, img)
    cfg, root, scratch, out = tmp / "config", tmp / "mask root", tmp / "dt-tmp", tmp / "out"
    for d in (cfg, root, scratch, out):
        d.mkdir()
    install(cfg)
    (cfg / "darktablerc").write_text(f"plugins/darkroom/segments/def_path={root}\n", encoding="utf-8")
    script = tmp / "prompts.json"
    lua_steps = "{" + ", ".join(f"{{{lua_string(n)}, {lua_string(mode)}, {lua_string(json.dumps(p))}}}"
                                for n, mode, p in steps) + "}"
    probe = tmp / "probe.dtstyle"  # +1 EV blended through rasterfile instance 1, named apart from dtmask's
    probe.write_bytes(dtstyle.to_xml(dtstyle.Style("dtmask test probe", plugins=[dtstyle.Plugin(
        0, "exposure", dtstyle.EXPOSURE_VERSION, dtstyle.encode_params(dtstyle.exposure_params(1.0)), True,
        dtstyle.encode_params(dtstyle.blend_params("rasterfile", 1)), dtstyle.BLEND_VERSION, 0, "probe", 1)])))
    with open(cfg / "luarc", "a", encoding="utf-8") as f:
        f.write(NAMED_LUA.format(image=lua_string(photo), script=lua_string(script), out=lua_string(out),
                                 steps=lua_steps, probe=lua_string(probe if in_chroot else "")))
    env = dict(os.environ, DTMASK_HOME=str(with_model))
    with HelperProxy(tmp / "proxy", HELPER, env) as proxy:
        dt_env = {"DTMASK_HELPER": str(proxy.shim), "DTMASK_PICK_SCRIPT": str(script), "TMPDIR": str(scratch),
                  "DTMASK_STYLE_EXPOSURE": "2"}
        proc = launch_darktable(cfg, dt_env, in_chroot, scripts_ran=lambda: bool(proxy.calls))
    result = (out / "result.txt").read_text()
    assert "ok=true" in result and "=false" not in result, (result, proc.stdout[-3000:])
    assert "LUA ERROR" not in proc.stdout + proc.stderr, proc.stdout[-3000:]
    assert left_behind(scratch) == [], "temporary exports were left behind"
    index = {m["name"]: m for m in masks.MaskSet(root / "dtmask", photo.name, 1).current()}
    return {"out": out, "index": index, "folder": root / "dtmask"}


def changed_discs(run: dict, step: int | str, since: int | str = 0) -> set[str]:
    """Which discs the export of `step` brightened against the export of `since` (and nothing else)."""
    before = tifffile.imread(run["out"] / f"step{since}.tif").astype(np.float64)
    after = tifffile.imread(run["out"] / f"{step if isinstance(step, str) else f'step{step}'}.tif").astype(np.float64)
    changed = np.abs(after - before).max(axis=2) > 1000
    y, x = np.mgrid[0:H, 0:W]
    from scipy import ndimage
    near = np.zeros((H, W), bool)
    hit = set()
    for key, (cx, cy) in DISCS.items():
        disc = (x - cx) ** 2 + (y - cy) ** 2 < RADIUS ** 2
        near |= ndimage.binary_dilation(disc, iterations=4)
        if changed[disc].mean() > 0.9:
            hit.add(key)
    assert changed[~near].sum() == 0, f"step {step}: {changed[~near].sum()} pixels changed outside the discs"
    return hit


@needs_54
def test_darktable_54_named_masks_are_kept_apart_replaced_edited_and_removed(tmp_path, with_model):
    """Each name its own rasterfile instance with an exposure blended through it (+2 EV on its disc only); a
    name picked again moves its instance to the new file (the old disc no longer changes); edit adds a click to
    the saved ones; remove switches the instance off; a name replaced above a switched-off instance stays in
    place, and the next new name takes the switched-off instance."""
    a, b, c = ([{"point": list(DISCS[k])}] for k in "abc")
    steps = [("sky", "new", a), ("subject", "new", b), ("sky", "new", c), ("subject", "edit", [{"negative": [20, 20]}]),
             ("sky", "remove", []), ("subject", "new", a), ("moon", "new", c)]
    run = run_named(tmp_path, with_model, True, steps)
    expected = [{"a"}, {"a", "b"}, {"b", "c"}, {"b", "c"}, {"b"}, {"a"}, {"a", "c"}]
    assert [changed_discs(run, i) for i in range(1, len(steps) + 1)] == expected
    index = run["index"]
    assert sorted(index) == ["moon", "subject"] and index["moon"]["instance"] == 0
    # the instances are where the index says: "subject" (instance 1) reads disc a's mask
    assert index["subject"]["instance"] == 1 and changed_discs(run, "probe", since=len(steps)) == {"a"}
    saved = json.loads(Path(index["subject"]["prompts"]).read_text())
    assert saved["prompts"]["points"] == [list(map(float, DISCS["a"]))] and saved["prompts"]["negatives"] == []
    files = sorted(p.name for p in run["folder"].iterdir())
    assert len(files) == 5, files  # two masks, their prompts, the index: replaced and removed versions are gone


@needs_42
def test_darktable_42_writes_named_masks_with_their_prompts(tmp_path, with_model):
    run = run_named(tmp_path, with_model, False, [("", "new", [{"point": list(DISCS["a"])}]),
                                                  ("subject", "new", [{"point": list(DISCS["b"])}]),
                                                  ("subject", "edit", [{"negative": [20, 20]}])])
    index = run["index"]
    assert sorted(index) == ["dtmask 1", "subject"]
    for name, key in (("dtmask 1", "a"), ("subject", "b")):
        mask = read_pfm(index[name]["mask"]) > 0.5
        cx, cy = DISCS[key]
        assert mask.shape == (H, W) and mask[cy, cx]
        saved = json.loads(Path(index[name]["prompts"]).read_text())
        assert saved["width"] == W and saved["prompts"]["points"] == [[float(cx), float(cy)]]
    assert len(saved["prompts"]["negatives"]) == 1  # the edit added its click to the saved one
    assert Path(index["subject"]["mask"]).name.startswith("two discs_1_subject_")
