"""The code stays readable: no function over 60 lines, in the helper or the darktable script."""

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LONGEST = 60


def python_functions():
    for path in sorted((ROOT / "helper" / "dtmask").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1


def lua_functions():
    """Every function of the Lua modules with its line span, as luac's listing gives it."""
    luac = shutil.which("luac5.4") or shutil.which("luac")
    if luac is None:
        pytest.skip("luac is not installed")
    for path in sorted((ROOT / "lua").rglob("*.lua")):
        listing = subprocess.run([luac, "-l", "-p", str(path)], capture_output=True, text=True, check=True).stdout
        for first, last in re.findall(r"^function <[^:]+:(\d+),(\d+)>", listing, re.M):
            yield f"{path.relative_to(ROOT)}:{first}", int(last) - int(first) + 1


@pytest.mark.parametrize("functions", [python_functions, lua_functions], ids=["python", "lua"])
def test_no_function_is_longer_than_60_lines(functions):
    spans = list(functions())
    assert len(spans) > 100, "the listing found too few functions: is the parsing still right?"
    long = [f"{where} ({lines} lines)" for where, lines in spans if lines > LONGEST]
    assert not long, "split these: " + ", ".join(long)
