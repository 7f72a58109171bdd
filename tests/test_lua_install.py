"""`dtmask lua install / uninstall / path`: the packaged script goes into darktable's config, luarc loads it once."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dtmask import luainstall
from dtmask.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_packaged_script_is_the_repository_script():
    assert Path(run("lua", "path").strip()).read_bytes() == (ROOT / "lua" / "dtmask.lua").read_bytes()


def test_install_is_idempotent_and_backs_up(tmp_path: Path):
    cfg = tmp_path / "dark table ü"
    cfg.mkdir()
    (cfg / "luarc").write_text('require "tools/script_manager"\n')
    run("lua", "install", "--darktable-config", str(cfg))
    script = cfg / "lua" / "dtmask" / "dtmask.lua"
    assert script.read_bytes() == (ROOT / "lua" / "dtmask.lua").read_bytes()
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
    out = run("lua", "uninstall", "--darktable-config", str(cfg))
    assert "removed" in out
    assert (cfg / "luarc").read_text() == 'require "other"\n'
    assert not (cfg / "lua" / "dtmask").exists()
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
