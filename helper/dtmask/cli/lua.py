"""`dtmask lua ...`: install the darktable script, and the small steps the script asks the helper to do.

The script (lua/dtmask.lua, shipped as package data) talks to the helper only through these commands, their exit
codes and one JSON object on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .. import dtstyle, luainstall, orientation
from ..imageio import read_image


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data) if as_json else text)


_config_option = click.option("--darktable-config", "config", type=click.Path(file_okay=False, path_type=Path),
                              help="darktable's configuration folder (default: the usual one for this system)")


@click.group("lua")
def lua() -> None:
    """The darktable Lua script: install it, and the steps it runs."""


@lua.command("path")
def path_cmd() -> None:
    """Print where the packaged darktable script is."""
    click.echo(luainstall.packaged_script())


@lua.command("install")
@_config_option
def install_cmd(config: Path | None) -> None:
    """Copy the script into darktable's lua folder and add its `require` line to luarc (idempotent)."""
    report = luainstall.install(config)
    for line in report:
        click.echo(line)


@lua.command("uninstall")
@_config_option
def uninstall_cmd(config: Path | None) -> None:
    """Remove the script and its `require` line (luarc is backed up first)."""
    for line in luainstall.uninstall(config):
        click.echo(line)


@lua.command("orientation")
@click.argument("raster", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("display", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print {orientation, width, height} as JSON")
def orientation_cmd(raster: Path, display: Path, as_json: bool) -> None:
    """Print the EXIF orientation (1..8) that turns the RASTER export into the DISPLAY export."""
    r = read_image(raster)
    n = orientation.detect(r, read_image(display))
    _emit(as_json, {"orientation": n, "width": r.width, "height": r.height}, str(n))


@lua.command("export-styles")
@click.argument("history", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--tag", required=True, help="makes the style names unique, e.g. <image id>_<time>")
def export_styles_cmd(history: Path | None, out_dir: Path, tag: str) -> None:
    """Write the raster-frame and display-probe styles made from a HISTORY .dtstyle; print them as JSON."""
    click.echo(json.dumps(dtstyle.write_export_styles(history, out_dir, tag)))


@lua.command("style")
@click.argument("mask", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--exposure", type=float, default=None, help="also add an exposure of this many EV blended "
                                                           "through the mask (for testing)")
def style_cmd(mask: Path, exposure: float | None) -> None:
    """Write <mask stem>.dtstyle that attaches MASK through darktable's rasterfile module; print it as JSON."""
    target, name = dtstyle.write_for_mask(mask, exposure)
    click.echo(json.dumps({"style": str(target), "style_name": name}))
