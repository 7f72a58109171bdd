"""``dtmask bench speed``: the helper's speed goals, each measured next to a plain pipeline run in the same run.

Each dtmask row is a separate process on a generated 24 MP 16-bit TIFF (so process start, imports and model
load count), with its own peak RSS. The plain pipeline (``plain.py``: tifffile, a nearest-neighbour resize, bare
onnxruntime with default options, the decoder's own full-size mask, one plain write) runs on the same photo in
the same run, because these machines are shared and noisy: compare rows, not runs. The goals (issue 15): first
mask <= 0.8 x the plain pipeline, cached embedding <= 0.25 x, peak RSS <= 1.5 GB, ``segment --all`` with a
cached embedding <= 3 s, ``batch --jobs 2`` >= 1.5 x the throughput of ``--jobs 1`` (or ``--jobs auto`` as fast
as the faster of the two), a picker click <= 100 ms.
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STAGES = ("read", "load", "encode", "decode", "refine", "write", "total")
GOAL_RSS_MB = 1500
PLAIN = "plain pipeline"


@dataclass
class Row:
    name: str
    timings: dict[str, float]
    wall: float
    rss_mb: float = 0.0
    runs: list[float] = field(default_factory=list)  # each run's wall (or click) seconds
    cpu: float = 0.0  # the process's user + system seconds (on a busy machine a steadier figure than wall)
    workers: list[int] = field(default_factory=list)  # batch rows: the workers each run used


@dataclass(frozen=True)
class Goal:
    """A row's goal: ``wall`` <= ``limit`` x the plain pipeline's wall ("plain"), or <= ``limit`` seconds."""

    limit: float
    versus: str  # "plain" or "seconds"

    def verdict(self, wall: float, plain: float) -> tuple[str, str]:
        """(the measured figure, "ok"/"over" with the goal) for a row's wall time."""
        if self.versus == "plain":
            ratio = wall / plain
            return f"{ratio:.2f}x", f"{'ok' if ratio <= self.limit else 'over'} (<= {self.limit:g}x)"
        return f"{wall / plain:.2f}x", f"{'ok' if wall <= self.limit else 'over'} (<= {self.limit:g} s)"


GOALS = {"first mask": Goal(0.8, "plain"), "cached embedding": Goal(0.25, "plain"),
         "--all, cached embedding": Goal(3.0, "seconds"), "picker click": Goal(0.1, "seconds")}
BATCH_GOAL = 1.5  # --jobs 2 throughput over --jobs 1


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


def _run(command: list[str]) -> tuple[dict, Row]:
    """Run one process that prints JSON: its answer, and a row with its wall and CPU seconds and peak RSS."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise RuntimeError(err.read().strip() or f"{command[2:4]} exited {os.waitstatus_to_exitcode(status)}")
    rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB here
    return json.loads(out), Row("", {}, wall, rss_mb, [wall], usage.ru_utime + usage.ru_stime)


def _dtmask(name: str, *args: str) -> Row:
    answer, row = _run([sys.executable, "-m", "dtmask", *args, "--json"])
    row.name, row.timings = name, answer["timings"]
    return row


def _plain(photo: Path, point: tuple[int, int], model_id: str | None, out: Path) -> Row:
    """The plain pipeline on the same photo and click, in a process of its own."""
    from .. import store

    entry = store.find(model_id)
    if entry.family != "sam1":
        raise RuntimeError(f"the plain pipeline is written for sam1 models, not {entry.family}")
    script = Path(__file__).with_name("plain.py")
    answer, row = _run([sys.executable, str(script), str(photo), *map(str, point),
                        str(entry.path("encoder")), str(entry.path("decoder")), str(out)])
    row.name, row.timings = PLAIN, answer["timings"]
    return row


def _masks(folder: Path, photo: Path, width: int, height: int, model_args: list[str]) -> list[Row]:
    """One photo: the plain pipeline, then dtmask's first mask, a mask from its cached embedding, and --all."""
    point, other = (int(width * 0.3), int(height * 0.5)), (int(width * 0.72), int(height * 0.5))
    out = str(folder / "m.pfm")
    return [_plain(photo, point, model_args[1] if model_args else None, folder / "plain.pfm"),
            _dtmask("first mask", "segment", str(photo), "-p", "%d,%d" % point, "-o", out, *model_args),
            _dtmask("cached embedding", "segment", str(photo), "-p", "%d,%d" % other, "-o", out, *model_args),
            _dtmask("--all, cached embedding", "segment", str(photo), "--all", *model_args)]


def _batch(folder: Path, photos: list[Path], jobs: int | str, model_args: list[str]) -> Row:
    """``dtmask batch`` on the photos, every one encoded (no cache), into a fresh folder."""
    prompts = folder / "prompts.json"
    prompts.write_text(json.dumps({"points": [[0.3, 0.5]]}))
    out = Path(tempfile.mkdtemp(prefix="batch-", dir=folder))
    answer, row = _run([sys.executable, "-m", "dtmask", "batch", *map(str, photos), "-o", str(out),
                        "--prompts", str(prompts), "--no-cache", "--jobs", str(jobs), *model_args, "--json"])
    if len(answer["written"]) != len(photos):
        raise RuntimeError(f"batch --jobs {jobs} wrote {len(answer['written'])} of {len(photos)} masks")
    row.name, row.timings = f"batch --jobs {jobs}, {len(photos)} photos", {"total": answer["seconds"]}
    row.workers = [answer["jobs"]]
    return row


def picker_clicks(photo: Path, model_id: str | None, canvas: tuple[int, int] = (1600, 1000)) -> list[float]:
    """Seconds per click in the picker's session, from the click to the canvas picture (decode, the mask sampled
    onto a fitted canvas, the tint and outline where the mask changed, the PPM bytes Tk is given); Tk's own
    drawing is left out."""
    from ..imageio import read_image
    from ..model import load_model
    from ..picker.render import Backdrop, ImageSource, mask_on_canvas, ppm
    from ..picker.session import PickSession
    from ..picker.viewport import Viewport

    image = read_image(photo)
    session = PickSession(load_model(model_id), image)
    view = Viewport(*canvas, image.width, image.height)
    view.fit()
    _, _, xs, ys = view.visible()
    backdrop = Backdrop(ImageSource(image, 1).sample(xs, ys, view.scale))
    while not session.ready:
        time.sleep(0.02)
    w, h = image.width, image.height
    clicks = [(0.3, 0.5, True), (0.72, 0.5, True), (0.72, 0.6, False), (0.28, 0.45, True), (0.7, 0.45, True),
              (0.1, 0.1, False)]
    seconds = []
    for fx, fy, positive in clicks:
        start = time.perf_counter()
        session.click(fx * w, fy * h, positive)
        session.request_decode()
        session.wait_decoded()
        inside = mask_on_canvas(session.result.logits, xs, ys, 1, w, h)
        y0, y1, x0, x1 = backdrop.update(inside, "overlay") or (0, 0, 0, 0)
        ppm(backdrop.picture[y0:y1, x0:x1])
        seconds.append(time.perf_counter() - start)
    return seconds


def run(megapixels: float = 24.0, model_id: str | None = None, repeat: int = 3, batch_photos: int = 4,
        log=lambda _msg: None) -> list[Row]:
    """Every goal's row, ``repeat`` times each (the median is reported), the plain pipeline on each photo."""
    model_args = ["--model", model_id] if model_id else []
    runs: dict[str, list[Row]] = {}
    compile_package()
    with tempfile.TemporaryDirectory(prefix="dtmask-bench-") as tmp:
        folder = Path(tmp)
        for i in range(repeat):
            photo = folder / f"photo{i}.tif"
            log(f"writing a {megapixels:g} MP 16-bit TIFF ({i + 1}/{repeat}); the plain pipeline, a first mask, "
                f"a cached one and --all on it")
            # fresh noise each run: an earlier bench's embedding must not be in the cache for the "first mask"
            width, height = make_photo(photo, megapixels)
            for row in _masks(folder, photo, width, height, model_args):
                runs.setdefault(row.name, []).append(row)
            if i < repeat - 1:
                photo.unlink()
        log("the picker's clicks")
        clicks = picker_clicks(photo, model_id)
        log(f"writing {batch_photos} photos for batch --jobs 1, 2 and auto")
        photos = [folder / f"batch{i}.tif" for i in range(batch_photos)]
        for p in photos:
            make_photo(p, megapixels)
        for _ in range(repeat):
            for jobs in (1, 2, "auto"):
                row = _batch(folder, photos, jobs, model_args)
                runs.setdefault(row.name, []).append(row)
    rows = [_median(name, found) for name, found in runs.items()]
    rows.append(Row("picker click", {}, statistics.median(clicks), 0.0, clicks))
    return rows


def compile_package() -> None:
    """Byte-compile dtmask as pip does when it installs it. A source tree run with PYTHONDONTWRITEBYTECODE (an
    editable install in a sandbox) would compile every module again in each timed process, a cost no installed
    copy pays and the plain pipeline's installed libraries do not pay either (docs/benchmarks.md)."""
    compileall.compile_dir(Path(__file__).resolve().parents[1], quiet=2)  # read-only: pip compiled it already


def _median(name: str, runs: list[Row]) -> Row:
    keys = dict.fromkeys(k for r in runs for k in r.timings)
    timings = {k: float(np.median([r.timings[k] for r in runs if k in r.timings])) for k in keys}
    return Row(name, timings, float(np.median([r.wall for r in runs])), max(r.rss_mb for r in runs),
               [w for r in runs for w in r.runs], float(np.median([r.cpu for r in runs])),
               [w for r in runs for w in r.workers])


def _batch_verdict(row: Row, batch: list[Row]) -> tuple[str, str]:
    """``--jobs 2`` against ``--jobs 1``; ``--jobs auto`` against the faster of the two, with what it chose."""
    if "auto" not in row.name:
        gain = batch[0].wall / row.wall
        return (f"{gain:.2f}x the throughput of {batch[0].name.split(',')[0]}",
                f"{'ok' if gain >= BATCH_GOAL else 'under'} (>= {BATCH_GOAL:g}x)")
    fixed = [r for r in batch if "auto" not in r.name]
    best = min(fixed, key=lambda r: r.wall)
    chose = ", ".join(map(str, row.workers))
    return (f"{best.wall / row.wall:.2f}x the throughput of the faster, {best.name.split(',')[0]}",
            f"chose {chose} worker(s)")


def table(rows: list[Row], megapixels: float) -> str:
    """A Markdown table, the format closing notes and the README use: every row beside the plain pipeline."""
    plain = next(r for r in rows if r.name == PLAIN)
    batch = [r for r in rows if r.name.startswith("batch --jobs")]
    head = ["", *STAGES, "process wall", "CPU", "peak RSS", f"{PLAIN} (same run)", "ratio", "goal"]
    lines = [f"{megapixels:g} MP 16-bit TIFF, {os.cpu_count()} cores, seconds (median of runs; read includes the "
             f"model load, which dtmask overlaps with it)",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ratio, verdict = "", ""
        goal = GOALS.get(r.name)
        if goal is not None:
            ratio, verdict = goal.verdict(r.wall, plain.wall)
        elif r in batch[1:]:
            ratio, verdict = _batch_verdict(r, batch)
        if r.rss_mb > GOAL_RSS_MB:
            verdict += f"; RSS over {GOAL_RSS_MB} MB"
        cells = [r.name] + [f"{r.timings[k]:.3f}" if k in r.timings else "" for k in STAGES]
        cells += [f"{r.wall:.3f}" + (f" (max {max(r.runs):.3f})" if r.name == "picker click" else ""),
                  f"{r.cpu:.2f}" if r.cpu else "", f"{r.rss_mb:.0f} MB" if r.rss_mb else "", f"{plain.wall:.2f}",
                  ratio, verdict]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"plain pipeline's bare encoder.run: {plain.timings.get('encoder_run', 0.0):.3f} s")
    return "\n".join(lines)
