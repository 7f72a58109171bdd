import errno
import struct
import zlib

import numpy as np
import pytest
import tifffile

from dtmask.errors import DtmaskError, UsageError
from dtmask.geometry import to_model_frame
from dtmask.imageio import from_array, mask_file, pfm_header, read_image, read_mask, write_mask


def _samples(image):
    """What geometry.to_model_frame takes: the samples and their full white."""
    return image.pixels, image.white


def test_pfm_bytes_are_what_darktable_reads(tmp_path):
    mask = np.array([[0.0, 0.25, 0.5], [0.75, 1.0, 0.125]], np.float32)  # top row first
    path = tmp_path / "m.pfm"
    write_mask(path, mask)
    data = path.read_bytes()
    header = b"Pf\n3 2\n-1.0\n"
    assert data.startswith(header)
    body = np.frombuffer(data[len(header):], "<f4")
    # rows bottom-to-top, little-endian
    assert body.tolist() == [0.75, 1.0, 0.125, 0.0, 0.25, 0.5]
    assert np.array_equal(read_mask(path), mask)


@pytest.mark.parametrize("width", [1, 3, 6000, 6001, 6002, 6003])
def test_pfm_header_puts_the_pixels_on_a_4_byte_boundary_with_the_same_scale(width):
    header = pfm_header(width, 4000)
    magic, size, scale, rest = header.split(b"\n")
    assert (magic, size.split(), float(scale), rest) == (b"Pf", [str(width).encode(), b"4000"], -1.0, b"")
    assert len(header) % 4 == 0


def test_a_mask_drawn_in_its_file_is_the_mask_written(tmp_path):
    mask = np.random.default_rng(3).random((37, 53)).astype(np.float32)
    write_mask(tmp_path / "written.pfm", mask)
    with mask_file(tmp_path / "drawn.pfm", "pfm", 53, 37) as target:
        canvas = target.canvas
        assert canvas.shape == (37, 53) and canvas.dtype == np.float32 and not canvas.any()
        assert not (tmp_path / "drawn.pfm").exists()  # renamed into place only at the end
        canvas[:] = mask
        target.write(canvas)
    assert (tmp_path / "drawn.pfm").read_bytes() == (tmp_path / "written.pfm").read_bytes()
    with mask_file(tmp_path / "copied.pfm", "pfm", 53, 37) as target:
        target.write(mask[::-1, ::-1][::-1, ::-1])  # made elsewhere (a turned frame): copied into the file
    assert (tmp_path / "copied.pfm").read_bytes() == (tmp_path / "written.pfm").read_bytes()
    with mask_file(tmp_path / "m.png", "png", 53, 37) as target:
        assert target.canvas is None  # a PNG is written by write_mask
        target.write(mask)
    assert np.abs(read_mask(tmp_path / "m.png") - mask).max() < 1e-4


def test_a_mask_drawn_in_its_file_replaces_nothing_when_it_fails(tmp_path):
    path = tmp_path / "m.pfm"
    write_mask(path, np.ones((5, 7), np.float32))
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        with mask_file(path, "pfm", 7, 5) as target:
            target.canvas[:] = 0.5
            raise KeyboardInterrupt
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pfm"]  # no temporary file left


def test_a_file_system_that_cannot_map_the_mask_gets_it_written(tmp_path, monkeypatch):
    def no_shared_mapping(*args, **kwargs):  # what mmap says on a FUSE share opened with direct_io
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(np, "memmap", no_shared_mapping)
    with mask_file(tmp_path / "m.pfm", "pfm", 7, 5) as target:
        assert target.canvas is None
        assert list(tmp_path.iterdir()) == []  # its temporary file is gone
        target.write(np.ones((5, 7), np.float32))
    assert read_mask(tmp_path / "m.pfm").shape == (5, 7)


def test_png_is_16_bit_grey_with_rows_top_first(tmp_path):
    mask = np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)
    path = tmp_path / "m.png"
    write_mask(path, mask)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (w, h, depth, colour) == (2, 2, 16, 0)
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41:41 + idat_len])
    assert raw == bytes([0, 0, 0, 255, 255, 0, 128, 0, 64, 0])
    np.testing.assert_allclose(read_mask(path), mask, atol=1 / 65535)


def test_mask_round_trip_large_odd(tmp_path):
    rng = np.random.default_rng(0)
    mask = rng.random((1031, 517)).astype(np.float32)
    for ext in ("pfm", "png"):
        write_mask(tmp_path / f"m.{ext}", mask)
        np.testing.assert_allclose(read_mask(tmp_path / f"m.{ext}"), mask, atol=1 / 65535)


def test_pfm_of_a_view_or_float64_mask(tmp_path):
    """Rows go out straight from the mask's memory where they can; other layouts are converted strip by strip."""
    rng = np.random.default_rng(1)
    mask = rng.random((1100, 300))
    for case in (mask, mask.astype(np.float32)[:, ::2], mask.astype(np.float32).T):
        write_mask(tmp_path / "m.pfm", case)
        np.testing.assert_array_equal(read_mask(tmp_path / "m.pfm"), case.astype(np.float32))


def test_write_leaves_no_temp_files(tmp_path):
    write_mask(tmp_path / "m.pfm", np.zeros((4, 4), np.float32))
    assert [p.name for p in tmp_path.iterdir()] == ["m.pfm"]


def test_missing_folders_are_made(tmp_path):
    write_mask(tmp_path / "new" / "deeper" / "m.pfm", np.ones((2, 2), np.float32))
    assert read_mask(tmp_path / "new" / "deeper" / "m.pfm").tolist() == [[1, 1], [1, 1]]


def test_a_file_in_the_way_of_the_folder(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(UsageError, match="not a folder"):
        write_mask(tmp_path / "taken" / "m.pfm", np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("dtype,white", [(np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0)])
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("compression", [None, "zlib"])
def test_tiff_layouts(tmp_path, dtype, white, channels, compression):
    rng = np.random.default_rng(1)
    shape = (37, 53) if channels == 1 else (37, 53, channels)
    data = (rng.random(shape) * white).astype(dtype)
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, data, compression=compression,
                     photometric="minisblack" if channels == 1 else "rgb")
    img = read_image(path)
    assert (img.width, img.height) == (53, 37)
    assert img.pixels.shape[2] == (1 if channels == 1 else 3)
    expected = data if channels != 1 else data[..., None]
    assert np.array_equal(img.pixels, expected[..., :3])


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_an_uncompressed_photo_is_mapped_from_its_file_not_copied(tmp_path, byteorder, planar):
    data = (np.random.default_rng(2).random((41, 59, 3)) * 65535).astype(np.uint16)
    path = tmp_path / "in.tif"
    stored = np.moveaxis(data, -1, 0) if planar == "separate" else data
    tifffile.imwrite(path, stored, photometric="rgb", planarconfig=planar, byteorder=byteorder)
    assert not isinstance(read_image(path).pixels.base, np.memmap)  # copied unless asked: a picker runs for minutes
    img = read_image(path, mapped=True)
    assert img.pixels.dtype == np.uint16 and img.pixels.dtype.isnative
    assert np.array_equal(img.pixels, data)
    native = byteorder == ("<" if np.little_endian else ">")
    assert isinstance(img.pixels.base, np.memmap) == native  # the other byte order is converted, so copied
    assert not img.pixels.flags.writeable or not native  # never a way to write the photo through its pixels


def test_model_frame_is_area_average():
    a = np.zeros((4, 8), np.uint8)
    a[:, 4:] = 255
    out = to_model_frame(*_samples(from_array(a)), target=2)
    assert out.shape == (1, 2, 3)
    assert out[0, :, 0].tolist() == [0.0, 255.0]
    # 16-bit and 8-bit of the same picture land on the same 0..255 scale
    b = to_model_frame(*_samples(from_array(a.astype(np.uint16) * 257)), target=2)
    np.testing.assert_allclose(b, out, atol=1e-3)


def test_model_frame_large_uses_block_then_exact_area():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 65535, (2000, 3001, 3), dtype=np.uint16)
    out = to_model_frame(*_samples(from_array(a)))
    assert out.shape == (682, 1024, 3)
    assert abs(out.mean() - a.mean() / 257) < 0.5


@pytest.mark.parametrize("shape,target", [((300, 451, 3), 256), ((37, 53, 1), 80), ((1000, 1501, 3), 256)])
def test_model_frame_is_the_exact_box_average(shape, target):
    """Against the area average written out the slow way: each output sample is the mean of the input area it
    covers (fractional pixels weighted by their overlap), after the integer block means."""
    rng = np.random.default_rng(3)
    a = rng.integers(0, 65535, shape, dtype=np.uint16)
    out = to_model_frame(*_samples(from_array(a)), target=target)
    h, w = out.shape[:2]
    k = max(1, int(min(shape[1] / w, shape[0] / h)))
    blocks = a[:shape[0] // k * k, :shape[1] // k * k].astype(np.float64)
    blocks = blocks.reshape(shape[0] // k, k, shape[1] // k, k, shape[2]).mean(axis=(1, 3))

    def weights(n: int, new: int) -> np.ndarray:
        edges = np.arange(new + 1) * n / new
        lo, hi = edges[:-1, None], edges[1:, None]
        j = np.arange(n)[None, :]
        return np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None) / (hi - lo)

    expected = np.einsum("yi,xj,ijc->yxc", weights(blocks.shape[0], h), weights(blocks.shape[1], w), blocks,
                         optimize=True)
    expected = np.repeat(expected, 3, axis=2) if shape[2] == 1 else expected
    np.testing.assert_allclose(out, expected * 255 / 65535, atol=2e-3)


def test_image_digest_keys_pixels_shape_and_type():
    a = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    digests = {from_array(x).digest for x in (a, a.reshape(4, 2, 3), a.astype(np.uint16))}
    assert len(digests) == 3
    assert from_array(a.copy()).digest == from_array(a).digest


def test_multipage_uses_page_zero(tmp_path):
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.full((8, 8, 3), 10, np.uint8), photometric="rgb")
        tw.write(np.full((8, 8, 3), 200, np.uint8), photometric="rgb")
    img = read_image(path)
    assert img.pixels.max() == 10
    assert "page 0" in img.notes[0]


def test_cmyk_is_refused(tmp_path):
    path = tmp_path / "cmyk.tif"
    tifffile.imwrite(path, np.zeros((8, 8, 4), np.uint8), photometric="separated")
    with pytest.raises(UsageError, match="unsupported colour layout SEPARATED"):
        read_image(path)


def test_palette_is_refused(tmp_path):
    path = tmp_path / "pal.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), photometric="palette",
                     colormap=np.zeros((3, 256), np.uint16))
    with pytest.raises(UsageError, match="PALETTE"):
        read_image(path)


@pytest.mark.parametrize("mapped", [False, True])
def test_truncated_and_corrupt(tmp_path, mapped):
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, np.zeros((300, 300, 3), np.uint8))
    for size in (5000, good.stat().st_size - 1):  # cut in the pixels, or by their last byte
        cut = tmp_path / "cut.tif"
        cut.write_bytes(good.read_bytes()[:size])
        with pytest.raises(UsageError, match="cannot read cut.tif as a TIFF"):
            read_image(cut, mapped=mapped)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"this is not a tiff at all")
    with pytest.raises(UsageError, match="cannot read junk.tif"):
        read_image(junk, mapped=mapped)


def test_missing_file(tmp_path):
    with pytest.raises(UsageError, match="no such image file"):
        read_image(tmp_path / "nope.tif")


def test_read_mask_rejects_other_files(tmp_path):
    p = tmp_path / "x.pfm"
    p.write_bytes(b"P6\n1 1\n255\n\0\0\0")
    with pytest.raises(DtmaskError):
        read_mask(p)
