"""`dtmask lua ...`: install the darktable script, and the small steps the script asks the helper to do.

The script (lua/dtmask/, shipped as package data) talks to the helper only through these commands and `segment`,
`pick`, `models list`: their exit codes and one answer on stdout, which it asks for with --lua (a Lua table).
"""

from __future__ import annotations

from pathlib import Path

import click

from .. import luainstall, masks
from .common import LUA_OPTION, print_answer


_config_option = click.option("--darktable-config", "config", type=click.Path(file_okay=False, path_type=Path),
                              help="darktable's configuration folder (default: the usual one for this system)")


@click.group("lua")
def lua() -> None:
    """The darktable Lua script: install it, and the steps it runs."""


@lua.command("path")
def path_cmd() -> None:
    """Print where the packaged darktable script's folder is (its entry: dtmask.lua)."""
    click.echo(luainstall.packaged_folder())


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


_photo_options = [
    click.option("--mask-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                 help="the mask folder (created when missing)"),
    click.option("--photo", required=True, help="the photo's file name (names the mask files)"),
    click.option("--image-id", required=True, type=int, help="darktable's id of the image"),
]


def _photo(fn):
    for option in reversed(_photo_options):
        fn = option(fn)
    return fn


@lua.command("prepare")
@click.argument("history", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--tag", required=True, help="makes the style names unique, e.g. <image id>_<time>")
@_photo
@click.option("--name", default=None, help="the mask's name (default: the next free \"dtmask N\"); an existing "
                                           "name is replaced in place")
@click.option("--edit", is_flag=True, help="edit the mask NAME: the answer names its saved prompts")
@click.option("--exposure", type=float, default=None, help="also add an exposure of this many EV blended "
                                                           "through the mask (for testing)")
@LUA_OPTION
def prepare_cmd(history: Path | None, out_dir: Path, tag: str, mask_dir: Path, photo: str, image_id: int,
                name: str | None, edit: bool, exposure: float | None, as_lua: bool) -> None:
    """Write the styles for one selection from a HISTORY .dtstyle and print them (JSON; --lua: a Lua table):
    `preview` (the small export the picker shows, lean history, flip on), `guide` (the full-resolution export in
    the raster frame, lean history, flip off), `mask` (attaches the mask through a rasterfile instance named after
    it) and, when the name exists, `mask_off` (applied first: the instance is then replaced in place), and
    `target` (the mask's name, files, the prompts to edit and the files it replaces)."""
    print_answer(masks.prepare_selection(history, out_dir, tag, mask_dir, photo, image_id, name, edit, exposure),
                 True, as_lua)


@lua.command("masks")
@_photo
@click.option("--remove", "remove", metavar="NAME", help="remove this mask: its files are deleted")
@click.option("--out-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="with --remove: where to write the style that switches its instance off")
@click.option("--tag", default="", help="with --remove: makes the style name unique")
@LUA_OPTION
def masks_cmd(mask_dir: Path, photo: str, image_id: int, remove: str | None, out_dir: Path | None, tag: str,
              as_lua: bool) -> None:
    """Print the photo's masks (JSON; --lua: a Lua table): `masks` (name, mask, prompts, instance) and `next`
    (the next free default name); with --remove, also `off` (the style to apply)."""
    if remove is None:
        maskset = masks.MaskSet(mask_dir, photo, image_id)
        print_answer({"masks": maskset.current(), "next": maskset.next_name()}, True, as_lua)
        return
    if out_dir is None or not tag:
        raise click.UsageError("--remove needs --out-dir and --tag")
    print_answer(masks.remove_mask(mask_dir, photo, image_id, remove, out_dir, tag), True, as_lua)
