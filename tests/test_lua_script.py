"""Runs the Lua unit tests of lua/dtmask.lua (tests/lua/test_dtmask.lua) with lua5.4 and a fake darktable module."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LUA = shutil.which("lua5.4") or shutil.which("lua")


@pytest.mark.skipif(LUA is None, reason="lua5.4 is not installed (apt-get install lua5.4)")
@pytest.mark.parametrize("api", ["9.0.0", "9.6.0"])
def test_lua_units(tmp_path, api):
    env = dict(os.environ, FAKE_API=api, FAKE_TMP=str(tmp_path), FAKE_CONFIG=str(tmp_path),
               DTMASK_HELPER="/custom/dtmask", DTMASK_NO_UI="")
    proc = subprocess.run([LUA, str(ROOT / "tests/lua/test_dtmask.lua"), str(ROOT)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout


@pytest.mark.skipif(LUA is None, reason="lua5.4 is not installed (apt-get install lua5.4)")
def test_refuses_old_api(tmp_path):
    """Below Lua API 9.0.0 (darktable 4.2) the script stops with a clear message instead of failing later."""
    code = (f'package.path = "{ROOT}/tests/lua/?.lua;" .. package.path '
            f'package.loaded["darktable"] = require "fake_darktable" '
            f'local ok, err = pcall(dofile, "{ROOT}/lua/dtmask.lua") print(ok, err)')
    proc = subprocess.run([LUA, "-e", code], env=dict(os.environ, FAKE_API="8.0.0", DTMASK_NO_UI="1"),
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("false\tdtmask: Lua API 9.0.0 or newer required"), proc.stdout + proc.stderr
