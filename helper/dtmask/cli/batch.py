"""``dtmask batch``: masks for many photos, resumable."""

from __future__ import annotations

import sys

import click

from ..jobs import batch as pipeline
from .common import DEVICE_OPTION, FEATHER_OPTION, INVERT_OPTION, MODEL_OPTION, print_json, say


class Jobs(click.ParamType):
    """``--jobs``: a worker count from 1 to 64, or ``auto`` (0 for the pipeline)."""

    name = "jobs"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value == "auto":
            return 0 if value == "auto" else value
        if isinstance(value, str) and value.isdigit() and 1 <= int(value) <= 64:
            return int(value)
        self.fail(f"{value!r} is not a number from 1 to 64 or 'auto'", param, ctx)


JOBS = Jobs()


class Progress:
    """A progress bar on stderr when it is a terminal, else one line per photo; failures always get a line."""

    def __init__(self, quiet: bool = False):
        self.tty = sys.stderr.isatty()
        self.quiet = quiet
        self.drawn = False

    def __call__(self, event: pipeline.Event) -> None:
        name = click.format_filename(event.item.image, shorten=True)
        if event.kind == "failed":
            self.clear()
            say(f"{name}: {event.error}")
        elif not self.tty and not self.quiet:
            what = "already done" if event.kind == "skipped" else f"{event.seconds:.1f} s"
            say(f"[{event.done}/{event.total}] {name}: {what}")
        if self.tty:
            width = 30
            filled = width * event.done // max(1, event.total)
            sys.stderr.write(f"\rdtmask [{'#' * filled}{'.' * (width - filled)}] {event.done}/{event.total} "
                             f"{name[:40]:<40}")
            sys.stderr.flush()
            self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()
            self.drawn = False


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(), metavar="IMAGES...")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Folder for the masks (made when missing): DIR/<image name>.pfm (or .png).")
@click.option("--subject", is_flag=True, help="Mask each photo's main subject (no prompts needed).")
@click.option("--prompts", "prompts_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="JSON prompts in 0..1 fractions, applied to every photo (see below).")
@click.option("-j", "--jobs", type=JOBS, default="auto", show_default=True, metavar="N|auto",
              help="Photos processed at once (each worker loads the model and gets its share of the cores); "
                   "auto: one per idle core, within the photos and the available memory.")
@MODEL_OPTION
@click.option("--format", "fmt", type=click.Choice(["pfm", "png"]), default="pfm", show_default=True,
              help="Mask format.")
@INVERT_OPTION
@FEATHER_OPTION
@DEVICE_OPTION
@click.option("--force", is_flag=True, help="Redo masks that already exist (default: keep them and skip).")
@click.option("--no-cache", is_flag=True, help="Do not use or store cached image embeddings.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object at the end: written, skipped and failed photos, timings.")
def batch(images, out_dir, subject, prompts_file, jobs, model_id, fmt, invert, feather, device, force, no_cache,
          as_json):
    """Write a mask for each of IMAGES (TIFF files, or folders of them) into DIR.

    With --subject each photo's main subject is masked; with --prompts the same relative prompts are
    used on every photo. A photo whose mask is already in DIR is skipped, so running the same command
    again after Ctrl+C or a failure finishes the rest. A photo that fails is reported and skipped; the
    exit code is then 1. Ctrl+C stops the batch (exit code 3); finished masks stay.

    \b
    The prompts FILE is JSON, coordinates as 0..1 fractions of the width and height (x right, y down):
      {"points": [[0.5, 0.4]], "negatives": [[0.9, 0.1]], "box": [0.2, 0.1, 0.8, 0.9]}
    Every key is optional, but give at least one point or a box; "box" may be null.

    \b
    Examples:
      dtmask batch --subject shoot/*.tif -o masks/
      dtmask batch --prompts centre.json --jobs 2 shoot/ -o masks/ --json
    """
    if subject == bool(prompts_file):
        raise click.UsageError("give either --subject or --prompts FILE")
    prompts = pipeline.load_prompts(prompts_file) if prompts_file else None
    job = pipeline.BatchJob(images=list(images), out_dir=out_dir, subject=subject, prompts=prompts,
                            model=model_id, fmt=fmt, invert=invert, feather=feather, device=device,
                            use_cache=not no_cache, jobs=jobs, force=force)
    progress = Progress()
    report = pipeline.run(job, on_event=progress)
    progress.clear()
    say(report.summary())
    for event in report.failed:
        say(f"failed: {event.item.image}: {event.error}")
    if as_json:
        print_json(report.as_json())
    pipeline.raise_if_cancelled(report)
    return 1 if report.failed else 0
