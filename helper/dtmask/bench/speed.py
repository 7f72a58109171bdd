"""``dtmask bench speed``: the performance budget (docs/benchmarks.md, "Budgets"), measured as a user meets it.

Each row is a separate ``dtmask segment`` process on a generated 24 MP 16-bit TIFF (so process start, imports
and model load count), with its own peak RSS. A baseline row runs the bare onnxruntime encoder and decoder in
the same run, because these machines are shared and noisy: compare rows, not runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STAGES = ("read", "load", "encode", "decode", "refine", "write", "total")
BUDGET = {"first mask": 2.0, "cached embedding": 0.5}
BUDGET_RSS_MB = 1500


@dataclass
class Row:
    name: str
    timings: dict[str, float]
    wall: float
    rss_mb: float


def make_photo(path: Path, megapixels: float, seed: int | None = None) -> tuple[int, int]:
    """A 3:2 16-bit RGB TIFF with a smooth background and two objects; returns its (W, H)."""
    import tifffile

    height = int((megapixels * 1e6 / 1.5) ** 0.5)
    width = int(height * 1.5)
    rng = np.random.default_rng(seed)
    img = np.empty((height, width, 3), np.uint16)
    ramp = np.linspace(18000, 30000, width, dtype=np.float32)
    for r0 in range(0, height, 512):  # strip by strip: the bench itself stays small
        r1 = min(height, r0 + 512)
        rows = ramp[None, :, None] + rng.normal(0, 900, (r1 - r0, width, 3)).astype(np.float32)
        rows += np.array([0, 6000, -3000], np.float32)
        yy, xx = np.ogrid[r0:r1, :width]
        disc = (xx - width * 0.3) ** 2 + (yy - height * 0.5) ** 2 < (height * 0.22) ** 2
        rows[disc] = np.array([52000, 12000, 9000], np.float32) + rows[disc] * 0.05
        box = (np.abs(xx - width * 0.72) < width * 0.12) & (np.abs(yy - height * 0.5) < height * 0.3)
        rows[box] = np.array([9000, 16000, 50000], np.float32) + rows[box] * 0.05
        img[r0:r1] = np.clip(rows, 0, 65535)
    tifffile.imwrite(path, img, photometric="rgb")
    return width, height


def _run_segment(args: list[str], env: dict) -> Row:
    """Run one ``dtmask segment`` process; its own peak RSS comes from wait4."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "dtmask", "segment", *args, "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=err, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(err.read().strip() or f"dtmask segment exited {proc.returncode}")
    rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB here
    return Row("", json.loads(out)["timings"], wall, rss_mb)


def _baseline(model_id: str | None) -> Row:
    """The bare onnxruntime encoder and decoder on this machine now, with none of dtmask around them."""
    from .. import store
    from ..engines.base import open_session

    entry = store.find(model_id)
    start = time.perf_counter()
    encoder = open_session(str(entry.path("encoder")), ["CPUExecutionProvider"])
    decoder = open_session(str(entry.path("decoder")), ["CPUExecutionProvider"])
    load = time.perf_counter() - start
    tensor = np.zeros((1, 3, 1024, 1024), np.float32)
    t = time.perf_counter()
    outputs = encoder.run(None, {encoder.get_inputs()[0].name: tensor})
    encode = time.perf_counter() - t
    feed = {}
    for spec in decoder.get_inputs():
        shape = [d if isinstance(d, int) else 2 for d in spec.shape]
        feed[spec.name] = np.zeros(shape, np.float32)
    feed[decoder.get_inputs()[0].name] = outputs[0]
    t = time.perf_counter()
    try:
        decoder.run(None, feed)
    except Exception:  # a family whose decoder needs more than the first encoder output: no decode baseline
        pass
    decode = time.perf_counter() - t
    return Row("baseline: bare onnxruntime", {"load": load, "encode": encode, "decode": decode,
                                              "total": load + encode + decode}, 0.0, 0.0)


def run(megapixels: float = 24.0, model_id: str | None = None, repeat: int = 3,
        log=lambda _msg: None) -> list[Row]:
    """Measure a first mask (new image, model installed) and a mask from a cached embedding, ``repeat`` times
    each (the median is reported), plus the bare-onnxruntime baseline."""
    rows: dict[str, list[Row]] = {"first mask": [], "cached embedding": []}
    with tempfile.TemporaryDirectory(prefix="dtmask-bench-") as tmp:
        folder = Path(tmp)
        env = dict(os.environ)
        model_args = ["--model", model_id] if model_id else []
        for i in range(repeat):
            photo = folder / f"photo{i}.tif"
            log(f"writing a {megapixels:g} MP 16-bit TIFF ({i + 1}/{repeat})")
            # fresh noise each run: an earlier bench's embedding must not be in the cache for the "first mask"
            width, height = make_photo(photo, megapixels)
            point = f"{int(width * 0.3)},{int(height * 0.5)}"
            other = f"{int(width * 0.72)},{int(height * 0.5)}"
            log("first mask")
            rows["first mask"].append(_run_segment([str(photo), "-p", point, "-o", str(folder / "m.pfm"),
                                                    *model_args], env))
            log("mask with the cached embedding")
            rows["cached embedding"].append(_run_segment([str(photo), "-p", other, "-o", str(folder / "m.pfm"),
                                                          *model_args], env))
            photo.unlink()
    result = [_median(name, runs) for name, runs in rows.items()]
    log("baseline")
    result.append(_baseline(model_id))
    return result


def _median(name: str, runs: list[Row]) -> Row:
    timings = {k: float(np.median([r.timings.get(k, 0.0) for r in runs])) for k in STAGES}
    return Row(name, timings, float(np.median([r.wall for r in runs])), max(r.rss_mb for r in runs))


def table(rows: list[Row], megapixels: float) -> str:
    """A Markdown table, the format closing notes and the README use."""
    head = ["", *STAGES, "process wall", "peak RSS", "budget"]
    lines = [f"{megapixels:g} MP 16-bit TIFF, {os.cpu_count()} cores, seconds (median of runs)",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        budget = BUDGET.get(r.name)
        verdict = ""
        if budget is not None:
            verdict = f"{'ok' if r.wall <= budget else 'over'} ({budget:g} s, {BUDGET_RSS_MB} MB)"
        cells = [r.name] + [f"{r.timings[k]:.3f}" if k in r.timings else "" for k in STAGES]
        cells += [f"{r.wall:.2f}" if r.wall else "", f"{r.rss_mb:.0f} MB" if r.rss_mb else "", verdict]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
