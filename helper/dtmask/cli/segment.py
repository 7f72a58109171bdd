"""``dtmask segment``: one mask from the command line."""

from __future__ import annotations

import click

from .. import auto
from ..jobs import everything
from ..jobs import segment as pipeline
from ..refine import STAGES, Refinement
from .common import (BOX, DEVICE_OPTION, FEATHER_OPTION, FORMAT_OPTION, INVERT_OPTION, MODEL_OPTION, POINT,
                     PROMPTS_OPTION, SAVE_PROMPTS_OPTION, STROKE, print_json, say, show_progress_count)


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("-o", "--output", metavar="FILE",
              help="Mask file to write (.pfm for darktable, or .png). With --all: a folder or a pattern with {n}.")
@click.option("-p", "--point", "points", multiple=True, type=POINT,
              help="Foreground click at X,Y (pixels of the TIFF: x right, y down, 0,0 top-left). Repeatable.")
@click.option("-n", "--negative", "negatives", multiple=True, type=POINT,
              help="Background click at X,Y: removes what is under it. Repeatable.")
@click.option("-b", "--box", type=BOX, help="Box X0,Y0,X1,Y1 around the object.")
@click.option("--stroke", "strokes", multiple=True, type=STROKE,
              help="Brush stroke over the object, \"X1,Y1 X2,Y2 ...\": used as evenly spaced clicks along it. "
                   "Repeatable.")
@click.option("--negative-stroke", "negative_strokes", multiple=True, type=STROKE,
              help="Brush stroke over what to remove. Repeatable.")
@click.option("--relative", is_flag=True, help="Coordinates are 0..1 fractions of the width and height.")
@PROMPTS_OPTION
@SAVE_PROMPTS_OPTION
@MODEL_OPTION
@FORMAT_OPTION
@INVERT_OPTION
@FEATHER_OPTION
@DEVICE_OPTION
@click.option("--overlay", type=click.Path(dir_okay=False), metavar="PNG",
              help="Also write a picture of the mask over the photo, to check it by eye.")
@click.option("--no-cache", is_flag=True, help="Do not use or store the cached image embedding.")
@click.option("--no-refine", "skip", multiple=True, type=click.Choice([*STAGES, "all"]), metavar="STAGE",
              help="Turn a refinement stage off (repeatable): edges, components, holes, zoom, matte, first-choice; "
                   "all gives the model's raw mask. See the README's mask refinement.")
@click.option("--subject", is_flag=True,
              help="No clicks: select the photo's main subject (--negative / --negative-stroke still remove).")
@click.option("--all", "all_objects", is_flag=True,
              help="List every object (automatic masks); with -o DIR or -o 'PATTERN{n}.pfm' write each mask.")
@click.option("--grid", type=click.IntRange(4, 64), default=auto.POINTS_PER_SIDE, show_default=True, metavar="N",
              help="With --all: N x N point prompts (more finds smaller objects, and takes longer).")
@click.option("--fast", is_flag=True,
              help="With --all: skip grid points inside objects already found (much faster; finds no parts).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: output, size, model, score, prompts, timings (--all: the objects).")
def segment(image, output, points, negatives, box, strokes, negative_strokes, relative, prompts_file, save_prompts,
            model_id, fmt, invert, feather, device, overlay, no_cache, skip, subject, all_objects, grid, fast, as_json):
    """Write the mask of the object under the prompts in IMAGE (a TIFF).

    The mask has the TIFF's width and height and lies in its pixel frame, 1.0 on the object.
    A second run on the same image reuses the cached embedding and takes a fraction of the time.

    \b
    Examples:
      dtmask segment photo.tif --point 2400,1600 -o mask.pfm
      dtmask segment photo.tif -p 0.5,0.4 -n 0.52,0.2 --relative -o mask.png
      dtmask segment photo.tif --box 1800,900,3100,2400 --feather 2 -o mask.pfm --json
      dtmask segment photo.tif --stroke "2300,1500 2450,1620 2600,1700" -o mask.pfm
      dtmask segment photo.tif --subject -o mask.pfm           # the main subject, no clicks

    \b
    --all lists the objects in the photo (a grid of point prompts, score and stability filters,
    duplicates removed), largest first: number, box x0,y0,x1,y1 (pixels, x1/y1 exclusive), area in
    pixels, predicted IoU and stability. Box and area are estimated on the model's 256 x 256 grid unless
    the masks are written, then they are exact. -o DIR writes DIR/<image name>-01.pfm, -02 ...;
    -o PATTERN uses {n} for the object's number and {stem} for the image's name:
      dtmask segment photo.tif --all --json
      dtmask segment photo.tif --all -o masks/               # masks/photo-01.pfm, masks/photo-02.pfm ...
      dtmask segment photo.tif --all -o 'masks/{stem}_{n:03d}.png' --json
    """
    if all_objects:
        if subject or points or negatives or box or strokes or negative_strokes or overlay or skip or prompts_file:
            raise click.UsageError("--all finds the objects itself: it takes no prompts, --subject, --overlay "
                                   "or --no-refine")
        return _all_objects(image, output, model_id, fmt, invert, feather, device, no_cache, grid, fast, as_json)
    if output is None:
        raise click.UsageError("Missing option '-o' / '--output'.")
    job = pipeline.SegmentJob(image=image, output=output, points=list(points), negatives=list(negatives),
                              box=box, strokes=list(strokes), negative_strokes=list(negative_strokes),
                              relative=relative, model=model_id, fmt=fmt, invert=invert,
                              feather=feather, device=device, use_cache=not no_cache, overlay=overlay,
                              subject=subject, refine=Refinement().without(skip), prompts_file=prompts_file,
                              save_prompts=save_prompts)
    report = pipeline.run(job)
    for note in report.notes:
        say(note)
    if as_json:
        print_json(report.as_json())
    else:
        click.echo(f"{report.output}  {report.width}x{report.height}  score {report.score:.3f}  "
                   f"{report.timings['total']:.2f} s{' (cached embedding)' if report.cached else ''}")


def _all_objects(image, output, model_id, fmt, invert, feather, device, no_cache, grid, fast, as_json):
    job = everything.AllJob(image=image, output=output, model=model_id, fmt=fmt, invert=invert, feather=feather,
                      device=device, use_cache=not no_cache, points_per_side=grid, fast=fast)
    report = everything.run_all(job, progress=show_progress_count("objects"))
    for note in report.notes:
        say(note)
    if as_json:
        print_json(report.as_json())
        return
    click.echo(f"{report.image}  {report.width}x{report.height}  {len(report.objects)} objects  "
               f"{report.decodes} decodes  {report.timings['total']:.2f} s")
    for obj in report.objects:
        x0, y0, x1, y1 = obj["bbox"]
        click.echo(f"{obj['id']:3d}  box {x0},{y0},{x1},{y1}  area {obj['area']}  score {obj['score']:.3f}  "
                   f"stability {obj['stability']:.3f}" + (f"  {obj['output']}" if "output" in obj else ""))
