"""Install the darktable script into darktable's config folder and load it from luarc, idempotently.

The script is package data (single source: the repository's lua/dtmask/ folder), so `pip`/`pipx` users get it
with the helper. The folder goes to `<config>/lua/dtmask/`: its entry `dtmask.lua`, loaded by
`require "dtmask/dtmask"`, and the modules in `lib/` it requires. Each file is written atomically; luarc is backed
up before every change and left alone when there is nothing to change.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from importlib import resources
from pathlib import Path

from .errors import DtmaskError, UsageError

REQUIRE_LINE = 'require "dtmask/dtmask"'


def packaged_folder() -> Path:
    """The script's folder shipped in the package (dtmask/lua is a symlink to the repository's lua/ in a checkout)."""
    folder = Path(str(resources.files("dtmask") / "lua" / "dtmask"))
    if not (folder / "dtmask.lua").is_file():
        raise DtmaskError(f"the darktable script is missing from the installed package: {folder / 'dtmask.lua'}")
    return folder


def script_files(folder: Path) -> list[Path]:
    """The script's files, relative to its folder: the entry and every module."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*.lua"))


def _copy_atomically(source: Path, target: Path) -> None:
    """darktable may load the script meanwhile: it sees the old file or the new one, never half of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    shutil.copyfile(source, part)
    os.replace(part, target)


def darktable_config_dir() -> Path:
    """darktable's default config folder: %LOCALAPPDATA%\\darktable on Windows, else ~/.config/darktable."""
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "darktable"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "darktable"


def _luarc_lines(luarc: Path) -> list[str]:
    try:
        return luarc.read_text(encoding="utf-8").splitlines() if luarc.exists() else []
    except (OSError, UnicodeDecodeError) as exc:
        raise DtmaskError(f"cannot read {luarc}: {exc}") from None


def _is_require(line: str) -> bool:
    """True for our require line in any quoting: require "dtmask/dtmask", require('dtmask/dtmask') ..."""
    squeezed = line.split("--", 1)[0].replace(" ", "").replace("(", "").replace(")", "").replace("'", '"')
    return squeezed == 'require"dtmask/dtmask"'


def _write_luarc(luarc: Path, lines: list[str]) -> Path | None:
    """Back up the old luarc (when there is one) beside it, then write the new one."""
    backup = None
    if luarc.exists():
        backup = _backup_name(luarc)
        shutil.copy2(luarc, backup)
    luarc.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return backup


def _backup_name(luarc: Path) -> Path:
    """luarc.dtmask-backup-<date>-<time>, with -2, -3 ... when one was made in the same second."""
    stem = f"luarc.dtmask-backup-{time.strftime('%Y%m%d-%H%M%S')}"
    backup, n = luarc.with_name(stem), 1
    while backup.exists():
        n += 1
        backup = luarc.with_name(f"{stem}-{n}")
    return backup


def install(config: Path | None = None) -> list[str]:
    """Copy the script and add the require line; return what was done, one line per step."""
    config = config or darktable_config_dir()
    if config.exists() and not config.is_dir():
        raise UsageError(f"not a folder: {config}")
    source, target = packaged_folder(), config / "lua" / "dtmask"
    try:
        files = script_files(source)
        for name in files:
            _copy_atomically(source / name, target / name)
        report = [f"installed {target / 'dtmask.lua'} and its {len(files) - 1} modules in {target / 'lib'}"]
        luarc = config / "luarc"
        lines = _luarc_lines(luarc)
        if any(_is_require(line) for line in lines):
            report.append(f"{luarc} already loads dtmask")
        else:
            backup = _write_luarc(luarc, lines + [REQUIRE_LINE])
            report.append(f"added `{REQUIRE_LINE}` to {luarc}" + (f" (backup: {backup.name})" if backup else ""))
    except OSError as exc:
        raise DtmaskError(f"cannot install into {config}: {exc.strerror or exc}") from None
    report.append("restart darktable; the darkroom then shows the panel \"AI object mask\"")
    return report


def uninstall(config: Path | None = None) -> list[str]:
    """Remove the require line and the script's files; return what was done."""
    config = config or darktable_config_dir()
    report = []
    try:
        luarc = config / "luarc"
        lines = _luarc_lines(luarc)
        kept = [line for line in lines if not _is_require(line)]
        if len(kept) != len(lines) and not any(line.strip() for line in kept):
            luarc.unlink()  # it held nothing but the dtmask line (most often: install made it)
            report.append(f"removed {luarc}: it held only the dtmask line")
        elif len(kept) != len(lines):
            backup = _write_luarc(luarc, kept)
            report.append(f"removed the dtmask line from {luarc} (backup: {backup.name if backup else '-'})")
        folder = config / "lua" / "dtmask"
        removed = [folder / name for name in script_files(packaged_folder()) if (folder / name).exists()]
        for path in removed:
            path.unlink()
        if removed:
            report.append(f"removed {folder}: {', '.join(str(p.relative_to(folder)) for p in removed)}")
        for empty in (folder / "lib", folder):
            if empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()
    except OSError as exc:
        raise DtmaskError(f"cannot uninstall from {config}: {exc.strerror or exc}") from None
    return report or ["dtmask was not installed there"]
