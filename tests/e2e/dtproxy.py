"""Run `dtmask` on the host for a darktable that lives in the dt-sid chroot (which has no Python).

Inside the chroot, DTMASK_HELPER points at a bash script that drops its arguments into a request folder under a
shared /tmp path and waits; this host-side thread runs each request with the real helper and writes back stdout,
stderr and the exit code (the code last, by rename, so the waiting script never reads a half-written answer).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

SHIM = """#!/bin/bash
d=$(mktemp -d {root}/req.XXXXXX)
printf '%s\\0' "$@" > "$d/args"
touch "$d/ready"
trap 'touch "$d/cancel"; exit 3' TERM
while [ ! -f "$d/rc" ]; do sleep 0.05; done
cat "$d/stdout"; cat "$d/stderr" >&2
exit "$(cat "$d/rc")"
"""


class HelperProxy:
    """Serve helper requests from `root` with `command` (a list: the Python that runs dtmask)."""

    def __init__(self, root: Path, command: list[str], env: dict[str, str]):
        self.root, self.command, self.env = root, command, env
        root.mkdir(parents=True, exist_ok=True)
        self.shim = root / "dtmask-proxy"
        self.shim.write_text(SHIM.format(root=root))
        self.shim.chmod(0o755)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._answering: list[threading.Thread] = []
        self.calls: list[list[str]] = []
        self.outputs: dict[int, str] = {}  # call index -> its stdout
        self.times: dict[int, tuple[float, float]] = {}  # call index -> wall-clock start and end

    def __enter__(self) -> "HelperProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for t in self._answering:
            t.join(300)

    def _serve(self) -> None:
        """Each request in a thread of its own: the bridge runs the picker while it asks for nothing else, but a
        request must never wait for another one to end."""
        while not self._stop.is_set():
            for ready in self.root.glob("req.*/ready"):
                (ready.parent / "ready").unlink()
                t = threading.Thread(target=self._answer, args=(ready.parent,), daemon=True)
                self._answering.append(t)
                t.start()
            time.sleep(0.02)

    def _answer(self, req: Path) -> None:
        args = (req / "args").read_bytes().split(b"\0")[:-1]
        argv = [a.decode() for a in args]
        index = len(self.calls)
        self.calls.append(argv)
        # the picker opens a window even when scripted: the display of the tests, else one of its own
        own = argv[:1] == ["pick"] and not self.env.get("DISPLAY") and shutil.which("xvfb-run")
        display = ["xvfb-run", "-a"] if own else []
        start = time.time()
        out, err = req / "stdout", req / "stderr"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            proc = subprocess.Popen(display + self.command + argv, stdout=stdout, stderr=stderr, env=self.env)
            while proc.poll() is None:  # the bridge's cancel kills the shim, which leaves `cancel`: kill the helper
                if (req / "cancel").exists() or time.time() - start > 300:
                    proc.terminate()
                try:
                    proc.wait(0.05)
                except subprocess.TimeoutExpired:
                    pass
        self.times[index] = (start, time.time())
        self.outputs[index] = out.read_text(errors="replace")
        (req / "rc.tmp").write_text(str(proc.returncode))
        os.replace(req / "rc.tmp", req / "rc")
