"""What the darktable script reads from a helper answer printed with --lua: the text loaded by the script's own loader
(dtmask/lib/helper.load_answer) in lua5.4, printed back as JSON by tests/lua/answer_to_json.lua. Used by the
darktable tests (the picker's answer they check) and tests/test_lua_script.py (the --lua and --json answers agree)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LUA = shutil.which("lua5.4") or shutil.which("lua")


def lua_reads(answer: str) -> object:
    """The Lua table the script gets, as JSON data (number types kept: an integer stays int, a float float)."""
    proc = subprocess.run([LUA or "lua5.4", str(ROOT / "tests/lua/answer_to_json.lua"), str(ROOT)],
                          input=answer.encode(), capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"lua could not read the answer {answer[:200]!r}: {proc.stderr.decode(errors='replace')}")
    return json.loads(proc.stdout.decode("utf-8", "surrogateescape"))
