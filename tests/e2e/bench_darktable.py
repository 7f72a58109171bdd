"""The photographer's wait in darktable 5.4.1 on a generated raw: a benchmark a maintainer runs by hand.

    .venv/bin/python -m tests.e2e.bench_darktable [--megapixels 24] [--heavy] [--tree DIR --script-frame full]

Needs ../shared/darktable/dt-sid (darktable 5.4.1 in a chroot), an X display for the picker (DISPLAY, e.g. Xvfb)
and the default model installed in DTMASK_HOME. It writes a Bayer DNG, starts darktable with the bridge from
TREE (default: this checkout; an older checkout gives the "before" column), presses "select object" with one
scripted click, and prints the timeline: shortcut -> exports done -> picker window -> first mask -> attached, next
to darktable's own full-size export of the same image with the same history, measured in the same run.
--heavy puts darktable's own "sharpen finest details" style (diffuse or sharpen) in the history first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from dtmask.bench.dng import write_dng

from .dtproxy import HelperProxy
from .luaanswer import lua_reads
from .test_darktable_e2e import DT_SID, ROOT, lua_string

CLICK = (0.5, 0.62)  # the astronaut's suit, as fractions of the displayed photo
HEAVY_STYLE = "sharpen finest details"

BENCH_LUA = """
local dt = require "darktable"
local s = package.loaded["dtmask/dtmask"]
local function now() local p = io.popen("date +%s.%N") local t = tonumber(p:read("l")) p:close() return t end
local log = io.open({log}, "w")
local function mark(name) log:write(name, " ", string.format("%.3f", now()), "\\n") log:flush() end
dt.control.dispatch(function()
  dt.control.sleep(2000)
  local img = dt.database.import({photo})
  if {style} ~= "" then
    for i = 1, #dt.styles do
      if dt.styles[i].name:find({style}, 1, true) then dt.styles.apply(dt.styles[i], img) end
    end
    dt.control.sleep(10000)  -- darktable renders the edited thumbnail meanwhile; a user edits long before
  end
  s.dtmask.on_stage = mark
  mark("shortcut")
  local ok = s.dtmask.select_object(img)
  mark(ok and "done" or "failed")
  local fmt = dt.new_format("tiff")
  fmt.bpp = 16
  fmt.max_width = 0
  fmt.max_height = 0
  mark("export_start")
  fmt:write_image(img, {baseline})
  mark("export_end")
  log:close()
  os.exit(0)
end)
"""


def photo(megapixels: float) -> np.ndarray:
    """scikit-image's astronaut, stretched to about `megapixels` at 3:2 (even sides, for the Bayer phase), with
    fresh grain each run: an embedding cached by an earlier run must not pose as a first mask."""
    from skimage import data, transform

    h = int(round((megapixels * 1e6 / 1.5) ** 0.5 / 2)) * 2
    w = int(round(h * 1.5 / 2)) * 2
    grain = np.random.default_rng().normal(0, 2, (h, w, 1))
    return np.clip(transform.resize(data.astronaut(), (h, w), order=1) * 255 + grain, 0, 255).astype(np.uint8)


def run(tree: Path, megapixels: float, heavy: bool, script_frame: str, work: Path) -> dict:
    picture = photo(megapixels)
    raw = work / "bench.dng"
    write_dng(raw, picture)
    h, w = picture.shape[:2]
    side = max(w, h) if script_frame == "full" else 1024
    scale = side / max(w, h)
    script = work / "click.json"
    script.write_text(json.dumps([{"point": [CLICK[0] * w * scale, CLICK[1] * h * scale]}, {"apply": True}]))
    cfg, masks, scratch = work / "config", work / "masks", work / "dt-tmp"
    for d in (cfg / "lua", masks, scratch):
        d.mkdir(parents=True)
    if (tree / "lua" / "dtmask").is_dir():  # the script's folder; older checkouts had one file
        shutil.copytree(tree / "lua" / "dtmask", cfg / "lua" / "dtmask")
    else:
        (cfg / "lua" / "dtmask").mkdir()
        shutil.copy(tree / "lua" / "dtmask.lua", cfg / "lua" / "dtmask" / "dtmask.lua")
    (cfg / "darktablerc").write_text(f"plugins/darkroom/segments/def_path={masks}\n", encoding="utf-8")
    log = work / "timeline.txt"
    (cfg / "luarc").write_text('require "dtmask/dtmask"\n' + BENCH_LUA.format(
        log=lua_string(log), photo=lua_string(raw), style=lua_string(HEAVY_STYLE if heavy else ""),
        baseline=lua_string(work / "baseline.tif")), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(tree / "helper"))
    with HelperProxy(work / "proxy", [sys.executable, "-m", "dtmask"], env) as proxy:
        dt_env = {"DTMASK_HELPER": str(proxy.shim), "DTMASK_PICK_SCRIPT": str(script), "TMPDIR": str(scratch)}
        cmd = [str(DT_SID), "run", "env", *(f"{k}={v}" for k, v in dt_env.items()), "xvfb-run", "-a", "darktable",
               "--configdir", str(cfg), "--library", ":memory:"]
        subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=1800)
        calls, times, outputs = proxy.calls, proxy.times, proxy.outputs
    marks = dict(line.split() for line in log.read_text().splitlines())
    marks = {k: float(v) for k, v in marks.items()}
    pick = next(i for i, c in enumerate(calls) if c[0] == "pick")
    picked = lua_reads(outputs[pick]) if outputs[pick].startswith("return ") else json.loads(outputs[pick])
    t0 = marks["shortcut"]
    line = {"picker process": times[pick][0] - t0, "helper runs": len(calls)}
    for name, key in (("preview exported", "preview"), ("guide exported", "guide")):
        if key in marks:
            line[name] = marks[key] - t0
    timeline = picked.get("timeline", {})
    if timeline:
        line["picker window"] = timeline["window"] - t0
        line["first mask shown"] = timeline["first_mask"] - t0
        line["apply"] = timeline["apply"] - t0
    line["attached"] = marks.get("attached", marks["done"]) - t0
    if timeline:
        line["apply -> attached"] = line["attached"] - line["apply"]
    line["darktable full-size export"] = marks["export_end"] - marks["export_start"]
    line["ok"] = "done" in marks
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--heavy", action="store_true", help='darktable\'s "sharpen finest details" in the history')
    parser.add_argument("--tree", type=Path, default=ROOT, help="a dtmask checkout (its lua/ and helper/)")
    parser.add_argument("--script-frame", choices=["preview", "full"], default="preview",
                        help="the frame of the scripted click: the picker's preview (this bridge) or the full "
                             "photo (bridges before the preview)")
    args = parser.parse_args()
    if not DT_SID.exists() or not os.environ.get("DISPLAY"):
        sys.exit("needs ../shared/darktable/dt-sid and an X display (DISPLAY)")
    with tempfile.TemporaryDirectory(prefix="dtmask-bench-") as work:
        line = run(args.tree.resolve(), args.megapixels, args.heavy, args.script_frame, Path(work))
    for key, value in line.items():
        print(f"{key:28s} {value:.2f} s" if isinstance(value, float) else f"{key:28s} {value}")


if __name__ == "__main__":
    main()
