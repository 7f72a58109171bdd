"""`dtmask lua ...`: install the darktable script, and the small steps the script asks the helper to do.

The script (lua/dtmask.lua, shipped as package data) talks to the helper only through these commands, their exit
codes and one JSON object on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import dtstyle, luainstall


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


@lua.command("prepare")
@click.argument("history", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--tag", required=True, help="makes the style names unique, e.g. <image id>_<time>")
@click.option("--mask", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the mask file the picker will write (a .pfm); the attach style points at it")
@click.option("--exposure", type=float, default=None, help="also add an exposure of this many EV blended "
                                                           "through the mask (for testing)")
def prepare_cmd(history: Path | None, out_dir: Path, tag: str, mask: Path, exposure: float | None) -> None:
    """Write the styles for one selection from a HISTORY .dtstyle and print them as JSON: `preview` (the small
    export the picker shows, lean history, flip on), `guide` (the full-resolution export in the raster frame,
    lean history, flip off) and `mask` (attaches MASK through the rasterfile module)."""
    click.echo(json.dumps(dtstyle.prepare(history, out_dir, tag, mask, exposure)))
