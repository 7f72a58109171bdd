import numpy as np

from dtmask.cache import EmbeddingCache, embedding_key, pixels_digest


def test_round_trip_and_key(tmp_path):
    cache = EmbeddingCache(tmp_path, limit_mb=10)
    a = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    key = embedding_key(pixels_digest(a), "model-sha")
    assert key != embedding_key(pixels_digest(a), "other-model")
    b = a.copy()
    b[0, 0, 0] += 1
    assert key != embedding_key(pixels_digest(b), "model-sha")
    assert pixels_digest(a) != pixels_digest(a.reshape(3, 2, 2))  # the same bytes in another shape
    assert cache.get(key) is None
    cache.put(key, {"emb": np.ones((1, 4), np.float32)})
    assert np.array_equal(cache.get(key)["emb"], np.ones((1, 4)))


def test_corrupt_entry_is_ignored_and_rewritten(tmp_path):
    cache = EmbeddingCache(tmp_path, limit_mb=10)
    (tmp_path / "k.npz").write_bytes(b"garbage")
    assert cache.get("k") is None
    cache.put("k", {"emb": np.zeros(3, np.float32)})
    assert cache.get("k")["emb"].shape == (3,)
    (tmp_path / "k.npz").write_bytes((tmp_path / "k.npz").read_bytes()[:40])  # truncated
    assert cache.get("k") is None


def test_lru_eviction(tmp_path):
    cache = EmbeddingCache(tmp_path, limit_mb=2.5)  # room for two 1 MB entries
    blob = {"emb": np.zeros(250_000, np.float32)}
    cache.put("a", blob)
    cache.put("b", blob)
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("c", blob)
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None


def test_unwritable_cache_does_not_fail(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = EmbeddingCache(blocker / "sub", limit_mb=1)
    cache.put("k", {"emb": np.zeros(2)})  # silently skipped
    assert cache.get("k") is None


def test_an_entry_under_another_name_is_not_trusted(tmp_path):
    """A file copied or renamed over another key's entry: the key inside it decides, not the file name."""
    cache = EmbeddingCache(tmp_path, limit_mb=10)
    cache.put("a" * 40, {"emb": np.ones(3, np.float32)})
    (tmp_path / f"{'b' * 40}.npz").write_bytes((tmp_path / f"{'a' * 40}.npz").read_bytes())
    assert cache.get("b" * 40) is None
    assert set(cache.get("a" * 40)) == {"emb"}  # the stored key is not handed back as an array
    np.savez(tmp_path / f"{'c' * 40}.npz", emb=np.ones(3, np.float32))  # no key inside: an older entry
    assert cache.get("c" * 40) is None


def test_digest_sees_every_part_of_the_pixels():
    a = np.zeros((64, 48, 3), np.uint16)
    seen = {pixels_digest(a)}
    for index in ((0, 0, 0), (31, 20, 1), (63, 47, 2)):  # first, middle and last part
        b = a.copy()
        b[index] = 1
        seen.add(pixels_digest(b))
    assert len(seen) == 4
    assert pixels_digest(a) == pixels_digest(a.copy())
