"""`dtmask lua install / uninstall / path`: the packaged script goes into darktable's config, luarc loads it once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from click.testing import CliRunner

from dtmask import luainstall
from dtmask.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "lua" / "dtmask"  # the entry dtmask.lua and its modules in lib/
MODULES = sorted(str(p.relative_to(SCRIPT)) for p in SCRIPT.rglob("*.lua"))


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_packaged_script_is_the_repository_script():
    assert "dtmask.lua" in MODULES and "lib/util.lua" in MODULES and len(MODULES) > 5
    assert tree(Path(run("lua", "path").strip())) == tree(SCRIPT)


def test_install_is_idempotent_and_backs_up(tmp_path: Path):
    cfg = tmp_path / "dark table ü"
    cfg.mkdir()
    (cfg / "luarc").write_text('require "tools/script_manager"\n')
    run("lua", "install", "--darktable-config", str(cfg))
    assert tree(cfg / "lua" / "dtmask") == tree(SCRIPT)  # every module, no leftover .part file
    assert (cfg / "luarc").read_text() == 'require "tools/script_manager"\nrequire "dtmask/dtmask"\n'
    backups = list(cfg.glob("luarc.dtmask-backup-*"))
    assert [b.read_text() for b in backups] == ['require "tools/script_manager"\n']
    out = run("lua", "install", "--darktable-config", str(cfg))
    assert "already loads dtmask" in out
    assert (cfg / "luarc").read_text().count("dtmask/dtmask") == 1
    assert len(list(cfg.glob("luarc.dtmask-backup-*"))) == 1


def test_install_recognises_other_spellings(tmp_path: Path):
    (tmp_path / "luarc").write_text("require('dtmask/dtmask')  -- AI masks\n")
    luainstall.install(tmp_path)
    assert (tmp_path / "luarc").read_text().count("dtmask/dtmask") == 1


def test_install_into_new_config_and_uninstall(tmp_path: Path):
    cfg = tmp_path / "new"
    run("lua", "install", "--darktable-config", str(cfg))
    assert (cfg / "luarc").read_text() == 'require "dtmask/dtmask"\n'
    assert not list(cfg.glob("luarc.dtmask-backup-*"))
    (cfg / "luarc").write_text('require "dtmask/dtmask"\nrequire "other"\n')
    (cfg / "lua" / "other.lua").write_text("-- another script\n")
    out = run("lua", "uninstall", "--darktable-config", str(cfg))
    assert "removed" in out and "lib/util.lua" in out
    assert (cfg / "luarc").read_text() == 'require "other"\n'
    assert not (cfg / "lua" / "dtmask").exists()  # every module and both folders
    assert (cfg / "lua" / "other.lua").exists()
    assert "not installed" in run("lua", "uninstall", "--darktable-config", str(cfg))


def test_default_config_folder(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert luainstall.darktable_config_dir() == tmp_path / "darktable"


def test_prepare_command_writes_every_style_of_a_selection(tmp_path: Path):
    folder = tmp_path / "masks"  # made by prepare
    photo = ["--mask-dir", str(folder), "--photo", "m.dng", "--image-id", "1"]
    out = json.loads(run("lua", "prepare", "--out-dir", str(tmp_path), "--tag", "1_t", *photo, "--name", "sky"))
    assert set(out) == {"preview", "guide", "mask", "target"}
    assert out["mask"]["name"] == "dtmask m_1_sky_t" and out["guide"]["name"] == "dtmask_guide_1_t"
    assert all(Path(out[kind]["path"]).is_file() for kind in ("preview", "guide", "mask"))
    assert out["target"]["mask"] == str(folder / "m_1_sky_t.pfm")
    assert not Path(out["target"]["mask"]).exists()  # the style points at the mask the picker will write
    assert json.loads(run("lua", "masks", *photo)) == {"masks": [], "next": "dtmask 1"}  # not written yet
    result = CliRunner().invoke(cli, ["lua", "masks", *photo, "--remove", "sky"])
    assert result.exit_code == 2 and "--remove needs --out-dir and --tag" in result.output


def test_install_then_uninstall_within_a_second_keeps_both_backups(tmp_path: Path):
    (tmp_path / "luarc").write_text('require "tools/script_manager"\n')
    run("lua", "install", "--darktable-config", str(tmp_path))
    run("lua", "uninstall", "--darktable-config", str(tmp_path))
    backups = sorted(tmp_path.glob("luarc.dtmask-backup-*"), key=lambda p: p.stat().st_mtime_ns)
    assert len(backups) == 2  # distinct names even in the same second
    assert [b.read_text() for b in backups] == ['require "tools/script_manager"\n',
                                                'require "tools/script_manager"\nrequire "dtmask/dtmask"\n']
    assert (tmp_path / "luarc").read_text() == 'require "tools/script_manager"\n'


def test_uninstall_removes_the_luarc_install_made(tmp_path: Path):
    cfg = tmp_path / "fresh"
    run("lua", "install", "--darktable-config", str(cfg))
    out = run("lua", "uninstall", "--darktable-config", str(cfg))
    assert "held only the dtmask line" in out
    assert sorted(p.name for p in cfg.rglob("*")) == ["lua"]  # no luarc, no backup, no script folder


@pytest.mark.slow
def test_a_built_wheel_ships_and_installs_every_module(tmp_path: Path):
    """`pip wheel` of the checkout (the package data follows the helper/dtmask/lua symlink) installed into a fresh
    virtual environment, its dependencies borrowed from this one: that `dtmask lua install` copies every module."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    wheel = next(wheels.glob("dtmask-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(n.removeprefix("dtmask/lua/dtmask/") for n in names if n.startswith("dtmask/lua/")) == MODULES
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    # this environment's packages for numpy, click ...; its dtmask is an editable .pth, which PYTHONPATH ignores
    env = dict(os.environ, PYTHONPATH=sysconfig.get_paths()["purelib"])
    cfg = tmp_path / "config"
    done = subprocess.run([str(venv / "bin" / "dtmask"), "lua", "install", "--darktable-config", str(cfg)], env=env,
                          check=True, capture_output=True, text=True, timeout=120)
    assert f"installed {cfg / 'lua' / 'dtmask' / 'dtmask.lua'}" in done.stdout
    assert tree(cfg / "lua" / "dtmask") == tree(SCRIPT)
    where = subprocess.run([str(venv / "bin" / "dtmask"), "lua", "path"], env=env, check=True, capture_output=True,
                           text=True, timeout=120)
    assert Path(where.stdout.strip()).is_relative_to(venv)  # the wheel's copy, not this checkout
