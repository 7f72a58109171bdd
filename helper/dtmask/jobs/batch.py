"""Masks for many photos at once (``dtmask batch``): the subject of each, or the same relative prompts in each.

- resumable: the mask of ``photo.tif`` is ``<out>/photo.<fmt>``, written atomically; a mask that exists is kept
  and its image skipped, so running the same command again after an interrupt or a failure finishes the rest;
- per-file errors are reported and skipped, the rest goes on; the report lists them;
- embeddings go to the embedding cache as usual, so a rerun does not encode a photo again;
- bounded memory: one photo at a time per worker (``jobs`` workers, each a process with its own model and its
  share of the CPU cores), nothing kept from one photo to the next.

The prompts file is JSON with 0..1 fractions of the width and height (x right, y down, from the top-left):
``{"points": [[0.5, 0.4]], "negatives": [[0.9, 0.1]], "box": [0.2, 0.1, 0.8, 0.9]}``; every key is optional
but at least one point or a box is needed; ``box`` may be null.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import interrupts
from ..engines.base import physical_cores
from ..errors import Cancelled, DtmaskError, UsageError
from ..imageio import check_folder, mask_format_for
from ..model import load_model
from . import segment

IMAGE_SUFFIXES = (".tif", ".tiff")
PROMPT_KEYS = {"points", "negatives", "box"}


@dataclass
class RelativePrompts:
    """Prompts as 0..1 fractions, applied to every image of a batch."""

    points: list[tuple[float, float]] = field(default_factory=list)
    negatives: list[tuple[float, float]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None

    def as_json(self) -> dict:
        return {"points": [list(p) for p in self.points], "negatives": [list(p) for p in self.negatives],
                "box": list(self.box) if self.box is not None else None}


def load_prompts(path: str) -> RelativePrompts:
    """Read and check a prompts file; every problem is a one-line UsageError."""
    name = Path(path).name
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the prompts file {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name} is not valid JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{name}: expected a JSON object like {{\"points\": [[0.5, 0.4]]}}")
    unknown = sorted(set(data) - PROMPT_KEYS)
    if unknown:
        raise UsageError(f"{name}: unknown key(s) {', '.join(unknown)}; use points, negatives, box")

    def fraction(v, what: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise UsageError(f"{name}: {what} must hold numbers from 0 to 1 (fractions of the width and height)")
        return float(v)

    def point_list(key: str) -> list[tuple[float, float]]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
            raise UsageError(f"{name}: {key} must be a list of [x, y] pairs")
        return [(fraction(x, key), fraction(y, key)) for x, y in value]

    box = data.get("box")
    if box is not None:
        if not isinstance(box, list) or len(box) != 4:
            raise UsageError(f"{name}: box must be [x0, y0, x1, y1] or null")
        box = tuple(fraction(v, "box") for v in box)
        if abs(box[2] - box[0]) <= 0 or abs(box[3] - box[1]) <= 0:
            raise UsageError(f"{name}: the box has no area")
    prompts = RelativePrompts(points=point_list("points"), negatives=point_list("negatives"), box=box)
    if not prompts.points and prompts.box is None:
        raise UsageError(f"{name}: give at least one point or a box (negatives alone select nothing)")
    return prompts


@dataclass
class BatchJob:
    images: list[str]
    out_dir: str
    subject: bool = False
    prompts: RelativePrompts | None = None
    model: str | None = None
    fmt: str = "pfm"
    invert: bool = False
    feather: float = 0.0
    device: str = "auto"
    use_cache: bool = True
    jobs: int = 1  # workers; 0 chooses (:func:`choose_jobs`)
    force: bool = False  # redo masks that exist


@dataclass
class Item:
    index: int  # 1-based position in the batch
    image: str
    output: str


@dataclass
class Event:
    """What happened to one image: ``skipped`` (mask already there), ``written`` or ``failed``."""

    kind: str
    item: Item
    done: int  # images finished so far (any kind)
    total: int
    seconds: float = 0.0
    score: float | None = None
    error: str = ""


@dataclass
class BatchReport:
    out_dir: str
    total: int
    written: list[Event] = field(default_factory=list)
    skipped: list[Event] = field(default_factory=list)
    failed: list[Event] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    jobs: int = 0  # the workers it ran (``--jobs auto``: what choose_jobs picked)

    def as_json(self) -> dict:
        """Each list in the images' order, however many workers finished them in whatever order."""
        def ordered(events: list[Event]) -> list[Event]:
            return sorted(events, key=lambda e: e.item.index)

        return {"output_dir": self.out_dir, "total": self.total, "cancelled": self.cancelled,
                "written": [{"image": e.item.image, "output": e.item.output, "score": round(e.score or 0.0, 4),
                             "seconds": round(e.seconds, 3)} for e in ordered(self.written)],
                "skipped": [{"image": e.item.image, "output": e.item.output} for e in ordered(self.skipped)],
                "failed": [{"image": e.item.image, "error": e.error} for e in ordered(self.failed)],
                "seconds": round(self.seconds, 3), "jobs": self.jobs}

    def summary(self) -> str:
        parts = [f"{len(self.written)} written"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} already done")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        left = self.total - len(self.written) - len(self.skipped) - len(self.failed)
        if left:
            parts.append(f"{left} not started")
        per = f", {self.seconds / len(self.written):.1f} s per mask" if self.written else ""
        return f"{self.total} images: {', '.join(parts)} in {self.seconds:.1f} s{per}"


def expand_images(args: list[str]) -> list[str]:
    """The images named: files as given, folders as their TIFFs (sorted), in order, without repeats."""
    out: list[str] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            out += sorted(str(f) for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        else:
            out.append(a)
    seen: set[str] = set()
    return [p for p in out if not (os.path.abspath(p) in seen or seen.add(os.path.abspath(p)))]


def plan(job: BatchJob) -> list[Item]:
    """The output file of each image; fails (usage) before any work when two images would share one or a mask
    would overwrite one of the images. A missing output folder is made as the first mask is written."""
    out = Path(job.out_dir)
    check_folder(out)
    mask_format_for(f"x.{job.fmt}", job.fmt)
    items: list[Item] = []
    owners: dict[str, str] = {}
    images = expand_images(job.images)
    inputs = {key: image for image in images if (key := _file_key(image))}
    for i, image in enumerate(images, 1):
        name = f"{Path(image).stem}.{job.fmt}"
        if name in owners:
            raise UsageError(f"{owners[name]} and {image} would both write {out / name}; rename one, or run "
                             f"them in separate batches")
        owners[name] = image
        key = _file_key(str(out / name))
        if key in inputs:
            raise UsageError(f"the mask of {image} would overwrite {inputs[key]}, an image of this batch: "
                             f"choose another output folder")
        items.append(Item(index=i, image=image, output=str(out / name)))
    if not items:
        raise UsageError("no images: name TIFF files or folders holding them")
    return items


def _file_key(path: str) -> tuple[int, int] | None:
    """(device, inode) of an existing file, so links and other spellings of one path compare equal."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _remove_leftovers(output: str) -> None:
    """Temporary files of this mask left by a killed run (the atomic writer's ``.<name>.*.part``)."""
    target = Path(output)
    for stale in target.parent.glob(f".{target.name}.*.part"):
        try:
            stale.unlink()
        except OSError:
            pass


def segment_job(job: BatchJob, item: Item):
    """The :class:`dtmask.jobs.segment.SegmentJob` of one image."""
    p = job.prompts or RelativePrompts()
    return segment.SegmentJob(image=item.image, output=item.output, points=list(p.points), negatives=list(p.negatives),
                      box=p.box, relative=True, subject=job.subject, model=job.model, fmt=job.fmt,
                      invert=job.invert, feather=job.feather, device=job.device, use_cache=job.use_cache)


def process(model, job: BatchJob, item: Item) -> tuple[str, float, float | None, str]:
    """One image: (kind, seconds, score, error). Any failure is caught and becomes a one-line message."""
    start = time.perf_counter()
    _remove_leftovers(item.output)
    try:
        report = segment.run(segment_job(job, item), model=model)
    except DtmaskError as exc:
        return "failed", time.perf_counter() - start, None, str(exc)
    except MemoryError:
        return "failed", time.perf_counter() - start, None, "out of memory"
    except Exception as exc:  # noqa: BLE001 - a bug on one photo must not stop the batch
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return "failed", time.perf_counter() - start, None, f"internal error: {type(exc).__name__}: {first[:200]}"
    return "written", time.perf_counter() - start, report.score, ""


def run(job: BatchJob, on_event: Callable[[Event], None] | None = None, model=None) -> BatchReport:
    """Run a batch; ``on_event`` hears about each image as it finishes. Ctrl+C stops it (report.cancelled)."""
    if job.subject == (job.prompts is not None):
        raise UsageError("give either --subject or --prompts FILE")
    items = plan(job)
    report = BatchReport(out_dir=str(Path(job.out_dir).resolve()), total=len(items))
    start = time.perf_counter()

    def emit(kind: str, item: Item, seconds: float = 0.0, score: float | None = None, error: str = "") -> None:
        event = Event(kind, item, 0, len(items), seconds, score, error)
        {"written": report.written, "skipped": report.skipped, "failed": report.failed}[kind].append(event)
        event.done = len(report.written) + len(report.skipped) + len(report.failed)
        if on_event:
            on_event(event)

    todo = []
    for item in items:
        if not job.force and Path(item.output).is_file():
            emit("skipped", item)
        else:
            todo.append(item)
    jobs = job.jobs or choose_jobs(len(todo))
    report.jobs = min(jobs, len(todo))
    try:
        if todo and jobs <= 1:
            if model is None:
                model = load_model(job.model, job.device)
            for item in todo:
                with interrupts.finishing() as guard:  # Ctrl+C after the rename: this photo is done
                    kind, seconds, score, error = process(model, job, item)
                emit(kind, item, seconds, score, error)
                if guard.interrupted:
                    raise KeyboardInterrupt
        elif todo:
            _run_parallel(job, todo, emit, jobs)
    except KeyboardInterrupt:
        report.cancelled = True
    report.seconds = time.perf_counter() - start
    return report


# --- parallel workers ----------------------------------------------------------------------------------------

_worker: dict = {}


def _init_worker(job: BatchJob, counter, jobs: int) -> None:
    """A worker process: ignores Ctrl+C (the parent stops it), takes its share of the cores, loads the model."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        share = [c for i, c in enumerate(cores) if i % jobs == index % jobs]
        if share and len(cores) >= jobs:
            os.sched_setaffinity(0, share)  # onnxruntime then runs one thread per core of this share
    _worker["job"] = job
    _worker["model"] = load_model(job.model, job.device)


def _work(item: Item):
    return process(_worker["model"], _worker["job"], item)


def choose_jobs(photos: int) -> int:
    """Workers when the user does not say: one per idle core, no more than the photos, and about a gigabyte of
    available memory each (a 24 MP photo's peak is 0.7-0.9 GB).

    On an idle machine a worker per core keeps every core busy through the single-threaded read, resize,
    refine and write; on a busy one a second worker only adds its own start-up and model load, so one
    multi-threaded worker is as fast (measured: 1.0x on a loaded 2-core box).
    """
    idle = max(1, min(physical_cores(), round(_idle_cores())))
    return max(1, min(idle, photos, _available_gb() or photos))


def _idle_cores(seconds: float = 0.25) -> float:
    """How many cores are idle now: from /proc/stat over a moment (Linux), else from the load average.

    The moment, not the load average: the one-minute average still counts work that ended seconds ago (a
    previous batch), which kept --jobs auto at one worker on a machine gone idle (docs/benchmarks.md)."""
    def busy_idle() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(t) for t in f.readline().split()[1:]]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        return sum(ticks) - idle, idle

    try:
        busy0, idle0 = busy_idle()
        time.sleep(seconds)
        busy1, idle1 = busy_idle()
        total = (busy1 - busy0) + (idle1 - idle0)
        if total > 0:
            return (os.cpu_count() or 1) * (idle1 - idle0) / total
    except (OSError, ValueError, IndexError):
        pass
    try:
        return (os.cpu_count() or 1) - os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows)
        return float(os.cpu_count() or 1)


def _available_gb() -> int | None:
    """Gigabytes of memory available now (Linux), or None where that is not known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // (1024 * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _run_parallel(job: BatchJob, todo: list[Item], emit, jobs: int) -> None:
    ctx = multiprocessing.get_context("spawn")  # no onnxruntime state is forked; same on every OS
    workers = min(jobs, len(todo))
    counter = ctx.Value("i", 0)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(job, counter, workers))
    pending = {}
    queue = list(todo)
    try:
        while queue or pending:
            while queue and len(pending) < workers + 1:  # a small queue: memory stays bounded
                item = queue.pop(0)
                pending[pool.submit(_work, item)] = item
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                item = pending.pop(future)
                try:
                    kind, seconds, score, error = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker died (killed, out of memory)
                    kind, seconds, score, error = "failed", 0.0, None, f"worker failed: {type(exc).__name__}"
                emit(kind, item, seconds, score, error)
    except BaseException:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for proc in processes:
            proc.terminate()
        for proc in processes:
            proc.join(5)
        pool.shutdown(wait=False, cancel_futures=True)
        for item in pending.values():  # a worker stopped while writing leaves its temporary file
            _remove_leftovers(item.output)
        raise
    pool.shutdown(wait=True)


def raise_if_cancelled(report: BatchReport) -> None:
    if report.cancelled:
        raise Cancelled(f"cancelled after {len(report.written)} new masks; run the same command again to "
                        f"finish the rest")
