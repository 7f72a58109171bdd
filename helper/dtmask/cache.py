"""Embedding cache on disk: a second run on the same picture skips the encoder (the slow part).

Key: a hash of the pixels' sha1, the model's sha256 and PREPROCESS_VERSION. Entries are .npz files named by
their key and holding it (checked on read), written atomically; the cache is bounded (least recently used
entries go first) and never breaks a run: an unreadable entry is ignored, and a cache that cannot be written
is skipped.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

PREPROCESS_VERSION = 1  # bump when the model-frame resize or normalisation changes
DEFAULT_LIMIT_MB = 512
KEY_ARRAY = "__cache_key__"  # each entry holds its own key, checked on every read


def cache_dir() -> Path:
    env = os.environ.get("DTMASK_HOME")
    if env:
        return Path(env).expanduser() / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir("dtmask", appauthor=False))


DIGEST_PARTS = 4  # the pixels are hashed in this many parts, two at a time (fixed: the same key on every machine)


def pixels_digest(pixels: np.ndarray) -> str:
    """sha1 over the sha1s of the decoded pixels' parts, with their shape and sample type.

    sha1 releases the GIL, so the parts hash on two cores at once: a cached run waits for this digest before
    it can look the embedding up (docs/benchmarks.md, "A mask from the cached embedding").
    """
    data = np.ascontiguousarray(pixels).reshape(-1).view(np.uint8)
    bounds = np.linspace(0, data.size, DIGEST_PARTS + 1).astype(int)
    parts = [data[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    with ThreadPoolExecutor(2) as pool:
        digests = list(pool.map(lambda part: hashlib.sha1(part, usedforsecurity=False).digest(), parts))
    h = hashlib.sha1(usedforsecurity=False)
    h.update(f"{pixels.shape}|{pixels.dtype.str}".encode())
    for d in digests:
        h.update(d)
    return h.hexdigest()


def embedding_key(digest: str, model_sha256: str) -> str:
    """The cache key of an image (its :func:`pixels_digest`) for a model."""
    return hashlib.sha1(f"{digest}|{model_sha256}|{PREPROCESS_VERSION}".encode(), usedforsecurity=False).hexdigest()


def _touch(path: Path) -> None:
    """Mark an entry as just used (explicit nanoseconds: file-system clocks tick too coarsely for LRU)."""
    now = time.time_ns()
    os.utime(path, ns=(now, now))


class EmbeddingCache:
    """A folder of ``<key>.npz`` files bounded to ``limit_mb`` megabytes."""

    def __init__(self, folder: Path | None = None, limit_mb: float | None = None):
        self.folder = Path(folder) if folder else cache_dir()
        if limit_mb is None:
            limit_mb = float(os.environ.get("DTMASK_CACHE_MB", DEFAULT_LIMIT_MB))
        self.limit = int(limit_mb * 1e6)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key``, or None when missing, damaged, or holding another key's entry
        (a file renamed or copied over: the name alone is not trusted)."""
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                if KEY_ARRAY not in data.files or str(data[KEY_ARRAY]) != key:
                    return None
                arrays = {name: data[name] for name in data.files if name != KEY_ARRAY}
            _touch(path)
            return arrays or None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
            return None  # missing or corrupt: the caller re-encodes and put() rewrites it

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".", suffix=".part", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    np.savez(f, **arrays, **{KEY_ARRAY: np.array(key)})
                os.replace(tmp, self._path(key))
                _touch(self._path(key))
            except BaseException:
                os.unlink(tmp)
                raise
            self.evict()
        except OSError:
            pass  # a read-only or full cache only costs speed

    def evict(self) -> None:
        """Drop least recently used entries until the folder is within its limit."""
        entries = []
        for p in self.folder.glob("*.npz"):
            try:
                st = p.stat()
            except OSError:
                continue
            entries.append((st.st_mtime_ns, st.st_size, p))
        total = sum(size for _, size, _ in entries)
        for _, size, p in sorted(entries):
            if total <= self.limit:
                break
            try:
                p.unlink()
            except OSError:
                continue
            total -= size

    def clear(self) -> int:
        removed = 0
        for p in self.folder.glob("*.npz"):
            p.unlink(missing_ok=True)
            removed += 1
        return removed
