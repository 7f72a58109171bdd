"""Images in, masks out: TIFF reading and PFM / 16-bit PNG mask files.

Masks are written the way darktable reads them (src/common/pfm.c) and atomically: a temporary file in the target
folder, then a rename, so a crash or a full disk never leaves a partial file at the output path. Masks and overlays
are not fsync'd (they are made again from the photo; docs/design.md, "Files"); small files people edit are.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
import sys
import tempfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from . import interrupts
from .errors import DtmaskError, UsageError, first_line
from .geometry import STRIP_ROWS, to_model_frame

PLANAR_SEPARATE = 2  # TIFF PlanarConfiguration: each sample in its own plane
JPEG_COMPRESSIONS = (6, 7)  # TIFF Compression: old-style and new-style JPEG


@dataclass
class Image:
    """A decoded image in the file frame: ``pixels`` is (H, W, C) uint8, uint16 or float32, C in 1, 3."""

    pixels: np.ndarray
    path: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @cached_property
    def digest(self) -> str:
        """The pixels' hash, which keys the embedding cache: computed once, and early where that overlaps work."""
        from .cache import pixels_digest

        return pixels_digest(self.pixels)

    @cached_property
    def model_frame(self) -> np.ndarray:
        """The encoder's picture (:func:`geometry.to_model_frame`): made once for the encoder and the subject's
        thumbnail, which both need it for an uncached photo."""
        return to_model_frame(self.pixels, self.white)

    @property
    def white(self) -> float:
        """The value that means full white for this sample type."""
        if self.pixels.dtype == np.uint8:
            return 255.0
        if self.pixels.dtype == np.uint16:
            return 65535.0
        return 1.0


def from_array(array: np.ndarray) -> Image:
    """Wrap an in-memory (H, W), (H, W, 3) or (H, W, 4) array as an :class:`Image` (alpha is dropped)."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise UsageError(f"unsupported image shape {a.shape}: expected grey, RGB or RGBA")
    if a.shape[2] == 4:
        a = a[:, :, :3]
    if a.dtype not in (np.uint8, np.uint16):
        a = a.astype(np.float32, copy=False)
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise UsageError("the image is empty")
    return Image(a)


def read_image(path: str | os.PathLike, mapped: bool = False) -> Image:
    """Read page 0 of a TIFF as grey or RGB; unsupported layouts and damaged files raise one-line errors.

    ``mapped``: for a run of a few seconds (a job), pixels stored uncompressed are mapped read-only from the
    file instead of copied (:func:`_maps_directly`). The file must then stay as it is while they are used:
    rewritten in place (not renamed over) during the run, it would change or cut the pixels under dtmask.
    """
    import tifffile

    logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # its warnings would break our one-line errors
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such image file: {p}")
    notes: list[str] = []
    try:
        with tifffile.TiffFile(p) as tif:
            if not tif.pages:
                raise UsageError(f"cannot read {p.name} as a TIFF (no image in it)")
            page = tif.pages[0]
            if len(tif.pages) > 1:
                notes.append(f"{p.name} has {len(tif.pages)} pages; using page 0")
            photometric = page.photometric
            name = getattr(photometric, "name", str(photometric))
            if name == "YCBCR" and page.compression in JPEG_COMPRESSIONS:
                name = "RGB"  # the JPEG codec hands back RGB
            if name not in ("RGB", "MINISBLACK", "MINISWHITE"):
                raise UsageError(
                    f"{p.name}: unsupported colour layout {name}; export an RGB or greyscale TIFF")
            pixels = page.asarray(out="memmap") if mapped and _maps_directly(tif, page) else page.asarray()
    except DtmaskError:
        raise
    except MemoryError:
        raise DtmaskError(f"{p.name} is too large to read into memory") from None
    except Exception as exc:  # tifffile raises many kinds for damaged files
        raise UsageError(f"cannot read {p.name} as a TIFF ({first_line(exc)})") from None
    if pixels.ndim == 3 and page.planarconfig == PLANAR_SEPARATE:
        pixels = np.moveaxis(pixels, 0, -1)  # one plane per sample -> samples last
    if name == "MINISWHITE":
        pixels = _invert(pixels)
    if pixels.dtype.kind == "f" and not np.isfinite(pixels).all():
        pixels = np.nan_to_num(pixels, nan=0.0, posinf=1.0, neginf=0.0)
    if pixels.dtype not in (np.uint8, np.uint16) and pixels.dtype.kind != "f":
        raise UsageError(f"{p.name}: unsupported sample type {pixels.dtype}; use 8/16-bit integer or float")
    image = from_array(pixels)
    image.path = str(p)
    image.notes = notes
    return image


def _maps_directly(tif, page) -> bool:
    """Whether the page's pixels can be mapped from the file as they lie (uncompressed, in one piece, in this
    machine's byte order): they are then read from the page cache as they are used, not copied into 144 MB of
    new memory first (a 24 MP 16-bit photo; docs/benchmarks.md, "Reading the photo: mapped, not copied")."""
    native = tif.byteorder == ("<" if sys.byteorder == "little" else ">")
    whole = page.dataoffsets[0] + page.nbytes <= tif.filehandle.size  # a cut file: the read says what is missing
    return page.is_memmappable and native and whole


def _invert(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype.kind == "f":
        return 1.0 - pixels
    return np.iinfo(pixels.dtype).max - pixels


# --- atomic files ------------------------------------------------------------------------------------------

def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_folder(folder: str | os.PathLike) -> None:
    """Fail before any slow work unless files can be written in ``folder`` once it is made (as mkdir -p)."""
    existing = Path(os.path.abspath(folder))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"not a folder: {existing}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DtmaskError(f"output folder is not writable: {existing}")


def make_folder(folder: str | os.PathLike) -> None:
    """Create ``folder`` and its parents when missing (mkdir -p), with a one-line error."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"not a folder: {folder}") from None
    except OSError as exc:
        raise DtmaskError(f"cannot create the folder {folder}: {exc.strerror or exc}") from None


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when two paths name one file (links and ``..`` included), whether or not it exists yet."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


@contextmanager
def atomic_write(path: str | os.PathLike, sync: bool = True, mode: str = "wb") -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` (making its folder when missing); on success rename it into place
    (fsync'd first with ``sync``), else remove it. Ctrl+C cannot cancel the rename half-way (interrupts.replacing).
    ``mode`` "w+b" lets the file be mapped."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    make_folder(folder)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise DtmaskError(f"cannot write to {folder}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; a mask is an ordinary file
                os.fchmod(f.fileno(), 0o666 & ~_umask())
            if sync:
                os.fsync(f.fileno())
        interrupts.replacing()
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
            raise DtmaskError(f"cannot write {target}: {reason}") from None
        raise


# --- PFM ---------------------------------------------------------------------------------------------------

def pfm_header(width: int, height: int) -> bytes:
    """A one-channel little-endian PFM's header. Its scale gets the zeros (-1.0, -1.00 ...: the same number to
    any reader, darktable's included) that put the pixels on a 4-byte boundary, so a mapped mask is aligned."""
    head = f"Pf\n{width} {height}\n-1.0"
    return (head + "0" * (-(len(head) + 1) % 4) + "\n").encode("ascii")


def write_pfm(path: str | os.PathLike, mask: np.ndarray) -> None:
    """One-channel little-endian PFM, bottom row first: exactly what darktable's rasterfile module reads."""
    mask = _check_mask(mask)
    h, w = mask.shape
    with atomic_write(path, sync=False) as f:
        f.write(pfm_header(w, h))
        for r1 in range(h, 0, -STRIP_ROWS):
            r0 = max(0, r1 - STRIP_ROWS)
            strip = np.ascontiguousarray(mask[r0:r1], dtype="<f4")  # a view for a float32 mask: no copy
            _write_rows(f, strip[::-1])  # rows straight from the mask's memory, at most 512 (IOV_MAX is 1024)


@dataclass
class MaskFile:
    """A mask file being made (:func:`mask_file`): ``canvas`` is where to draw it, when the file can be drawn in."""

    path: str | os.PathLike
    fmt: str
    canvas: np.ndarray | None  # a zeroed float32 (H, W) array that is the file's own pixels, top row first

    def write(self, mask: np.ndarray) -> None:
        """The mask goes into the file: nothing to do when it was drawn in the canvas, a copy into the canvas
        when it was made elsewhere (a turned frame), else :func:`write_mask`."""
        if self.canvas is None:
            write_mask(self.path, mask, self.fmt)
        elif mask is not self.canvas:
            self.canvas[...] = mask


@contextmanager
def mask_file(path: str | os.PathLike, fmt: str, width: int, height: int) -> Iterator[MaskFile]:
    """A new W x H mask at ``path``, written atomically like :func:`write_mask`: make it (in ``canvas`` where
    there is one), then :meth:`MaskFile.write` it inside the block.

    A PFM is drawn in its own temporary file: it is sized, its blocks reserved (so a full disk is an error here,
    never a fault on a mapped page later), mapped, and renamed into place when the block ends without an error;
    on an error it is removed. A 24 MP mask then needs no 96 MB array of its own and no copy into the file
    (docs/benchmarks.md, "The mask drawn in its file"). No canvas for a PNG, or where the file cannot be reserved
    and mapped (macOS and Windows have no ``posix_fallocate``, some network file systems no shared mapping).
    """
    if fmt != "pfm" or not hasattr(os, "posix_fallocate") or sys.byteorder != "little":
        yield MaskFile(path, fmt, None)
        return
    header = pfm_header(width, height)
    try:
        with atomic_write(path, sync=False, mode="w+b") as f:
            try:
                f.write(header)
                f.flush()
                os.posix_fallocate(f.fileno(), 0, len(header) + 4 * width * height)
                rows = np.memmap(f, np.float32, "r+", offset=len(header), shape=(height, width))
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
                    raise  # what writing the mask any other way would meet too: one line, as ever
                raise _NotMapped from None
            yield MaskFile(path, fmt, np.asarray(rows)[::-1])
    except _NotMapped:  # its temporary file is gone: the mask is written the ordinary way
        yield MaskFile(path, fmt, None)


class _NotMapped(Exception):
    """This file system cannot hold a mask file reserved and mapped."""


def _write_rows(f: BinaryIO, rows: np.ndarray) -> None:
    """Write the rows of a 2-D array in order: one ``writev`` call where the OS has it, not a call per row
    (half the time of a 24 MP PFM write, docs/benchmarks.md)."""
    if not hasattr(os, "writev"):  # Windows
        for row in rows:
            f.write(row)
        return
    f.flush()
    done = os.writev(f.fileno(), list(rows))
    if done < rows.nbytes:  # a short write (a signal, a nearly full disk): the rest the ordinary way
        f.write(memoryview(np.ascontiguousarray(rows)).cast("B")[done:])


def read_pfm(path: str | os.PathLike) -> np.ndarray:
    """Read a PFM (1 or 3 channels) into a top-row-first float32 array; 3 channels are reduced by max like darktable."""
    data = Path(path).read_bytes()
    parts = data.split(b"\n", 3)
    if len(parts) < 4 or parts[0] not in (b"Pf", b"PF"):
        raise DtmaskError(f"{path} is not a PFM file")
    w, h = (int(v) for v in parts[1].split())
    scale = float(parts[2])
    channels = 1 if parts[0] == b"Pf" else 3
    dtype = "<f4" if scale < 0 else ">f4"
    body = np.frombuffer(parts[3], dtype=dtype, count=w * h * channels)
    arr = body.reshape(h, w, channels)[::-1].astype(np.float32)
    return arr[:, :, 0] if channels == 1 else arr.max(axis=2)


# --- 16-bit grey PNG (standard library only) ---------------------------------------------------------------

def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def write_png(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a mask (H, W) as 16-bit grey PNG, or an (H, W, 3) uint8 picture as 8-bit RGB PNG."""
    if array.ndim == 3:
        rows = np.ascontiguousarray(array, dtype=np.uint8)
        bit_depth, colour, row_bytes = 8, 2, array.shape[1] * 3
    else:
        mask = _check_mask(array)
        rows = None
        bit_depth, colour, row_bytes = 16, 0, mask.shape[1] * 2
    h, w = array.shape[:2]
    comp = zlib.compressobj(6)
    with atomic_write(path, sync=False) as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, colour, 0, 0, 0)))
        chunks = []
        for r0 in range(0, h, STRIP_ROWS):
            r1 = min(h, r0 + STRIP_ROWS)
            if rows is None:
                strip = (np.clip(mask[r0:r1], 0, 1) * 65535 + 0.5).astype(">u2", order="C").view(np.uint8)
            else:
                strip = rows[r0:r1].reshape(r1 - r0, row_bytes)
            lines = np.zeros((r1 - r0, row_bytes + 1), dtype=np.uint8)  # filter byte 0 per row
            lines[:, 1:] = strip.reshape(r1 - r0, row_bytes)
            chunks.append(comp.compress(lines.tobytes()))
        chunks.append(comp.flush())
        f.write(_png_chunk(b"IDAT", b"".join(chunks)))
        f.write(_png_chunk(b"IEND", b""))


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG written by :func:`write_png` (or any non-interlaced grey / RGB PNG with filter 0 rows).

    Grey masks come back as float32 0..1; RGB pictures as uint8 (H, W, 3).
    """
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise DtmaskError(f"{path} is not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, payload = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", payload)
        elif kind == b"IDAT":
            idat.append(payload)
        pos += 12 + length
    if header is None:
        raise DtmaskError(f"{path} has no PNG header")
    w, h, depth, colour = header[:4]
    channels = {0: 1, 2: 3}.get(colour)
    if channels is None or depth not in (8, 16):
        raise DtmaskError(f"{path}: only 8/16-bit grey or RGB PNGs are supported")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    row_bytes = w * channels * depth // 8
    lines = raw.reshape(h, row_bytes + 1)
    if lines[:, 0].any():
        raise DtmaskError(f"{path}: filtered PNG rows are not supported")
    body = np.ascontiguousarray(lines[:, 1:])
    if depth == 16:
        values = body.view(">u2").reshape(h, w, channels).astype(np.float32) / 65535.0
    else:
        values = body.reshape(h, w, channels)
        if channels == 1:
            values = values.astype(np.float32) / 255.0
    return values[:, :, 0] if channels == 1 else values


def _check_mask(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a mask is 2-D, got shape {mask.shape}")
    return mask


MASK_FORMATS = ("pfm", "png")


def mask_format_for(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The mask format: given explicitly, or from the output file's extension."""
    if fmt:
        return fmt.lower()
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in MASK_FORMATS:
        raise UsageError(f"cannot tell the mask format from '{Path(path).name}': use .pfm or .png, or --format")
    return ext


def write_mask(path: str | os.PathLike, mask: np.ndarray, fmt: str | None = None) -> None:
    """Write a float mask (H, W) in 0..1 as PFM or 16-bit PNG, atomically."""
    fmt = mask_format_for(path, fmt)
    (write_pfm if fmt == "pfm" else write_png)(path, mask)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask written by :func:`write_mask` (format from the file's signature)."""
    with open(path, "rb") as f:
        head = f.read(2)
    return read_png(path) if head == b"\x89P" else read_pfm(path)
