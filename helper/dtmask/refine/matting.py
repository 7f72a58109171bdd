"""The ``matte`` stage: a soft alpha along the mask's edge where the photo shows one (fur, hair, grass), unmixed
from the colours of each pixel's window; it never moves the mask's 0.5 edge."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from typing import NamedTuple

import numpy as np

from ..engines.base import physical_cores
from ..geometry import bilinear_points, block_mean
from .edges import box_mean, neighbours, white_level
from .parts import Runs, row_runs, union_runs

MATTE_TILE = 128  # pixels a side of the matte's work tiles
MATTE_WINDOW = 8  # pixels: the radius of the window whose colours give a pixel its F and B
MATTE_PASSES = 3  # estimates of F, B and alpha, each weighted by the alpha of the pass before
MATTE_STEP = 4  # pixels a side of a sample of the grid the windows are summed on
MATTE_SPREAD = 0.5  # how far the windows' colour spread holds back the trust in an unmixed alpha
MATTE_FRAME = 3000  # pixels, the longest side the matte's settings were chosen at (1-6 MP sets)
MATTE_SOFT = 0.1  # the share of a tile's outside band with partial opacity that makes it fur
MATTE_SOFT_MIN = 200  # outside band pixels a tile needs for that share to count
HELD_IN = np.nextafter(np.float32(0.5), np.float32(1))  # the least alpha that still counts as inside


def matte(mask: np.ndarray, guide: np.ndarray, radius: float = 16.0, eps: float = 1e-3, floor: float = 2.0,
          reach: float = 24.0) -> None:
    """In place: pixels within ``radius`` inside the mask's edge and ``reach`` outside it get an alpha from the
    photo ``guide`` (H, W, C).

    Each such pixel's colour I is taken as a mix of the object's colour F and the background's B nearby (I = alpha F
    + (1 - alpha) B, the compositing equation): alpha = (I - B).(F - B) / |F - B|^2. F and B are the colours of a
    window around the pixel weighted by alpha^4 and (1 - alpha)^4 (Chuang et al.'s Bayesian matting weighs by the
    squares; the higher power keeps mixed pixels' colours out of F and B), first with the 0/1 mask's alpha, then
    with each pass's own: a strand lighter than the body soon gives its own colour to F, which the body's colour
    alone could not unmix. The answer is trusted by |F - B|^2 / (|F - B|^2 + MATTE_SPREAD spread + eps), ``spread``
    the variances of the window's F and B colours: where inside and outside look alike the 0/1 mask stays. In the
    last pass an alpha below what the window's noise alone would give (``floor`` standard deviations along F - B)
    is dropped, and a pixel keeps no more of it than a neighbour has; partial opacity not joined to the object
    through partial opacity is dropped (strands grow from the body, noise makes specks), so a hard edge gets no
    faint opacity around it. The matte never moves the edge: a pixel inside keeps an alpha above 0.5 and one outside
    at most 0.5, so the mask at 0.5 is the one the other stages made.

    Runs only on the tiles along the edge, all of them at once: each pass works on the whole band, a tile's
    windows and neighbours past its border reading what the tiles beside it hold, so each pixel is read and
    summed once however long the edge. In a frame over MATTE_FRAME pixels the fur along the edge is matted again
    at a smaller size, where the band reaches further (:func:`_long_strands`).
    """
    boxes = _band_tiles(mask, MATTE_TILE, max(radius, reach))
    work = _MatteWork(mask, guide, int(round(radius)), int(round(reach)), white_level(guide), eps, floor)
    with ThreadPoolExecutor(max_workers=min(physical_cores(), max(1, len(boxes)))) as pool:  # numpy frees the GIL
        band = _Band.of([tile for tile in pool.map(work.tile, boxes) if tile is not None])
        if band is None:
            return
        parts = band.parts(min(physical_cores(), len(band.rest)))  # the passes run on parts of the band at once
        alpha = [band.before[band.pixels_of(part)].astype(np.float32) for part in parts]
        for k in range(MATTE_PASSES):
            sums = np.concatenate(list(pool.map(band.sums, alpha, parts)))
            unmixed = list(pool.map(band.unmix, repeat(sums), repeat(floor if k == MATTE_PASSES - 1 else 0.0),
                                    repeat(eps), parts))
            away = np.concatenate([a for a, _ in unmixed])
            alpha = list(pool.map(band.settle, repeat(away), [t for _, t in unmixed], parts))
    alpha = np.concatenate(alpha)
    loose = band.loose_runs(alpha)  # read before the write: ``before`` is the mask the other stages made
    mask[band.rows, band.cols] = alpha
    _drop_unjoined(mask, loose)
    step = -(-max(mask.shape) // MATTE_FRAME)
    if step > 1:
        _long_strands(mask, guide, band.soft_tiles(alpha), step, (radius, eps, floor, reach))


def _long_strands(mask: np.ndarray, guide: np.ndarray, soft: np.ndarray, step: int,
                  settings: tuple[float, float, float, float]) -> None:
    """In place, in a frame over MATTE_FRAME pixels: around the ``soft`` tiles (r0, c0 of each, where the edge
    is fur, not a hard edge) the matte again on the photo at 1 / ``step`` of its size, the size its settings
    were chosen at, where its band reaches ``step`` times as far: strands grow with the frame, and in a 24 MP
    photo most of a fur's soft band lies beyond the band at full size. What it finds outside the mask is added
    where it is more; inside, and around hard edges, the full-size matte stays."""
    if not len(soft):
        return
    height, width = mask.shape
    tiles_y, tiles_x = -(-height // MATTE_TILE), -(-width // MATTE_TILE)
    near = {(r // MATTE_TILE + dy, c // MATTE_TILE + dx) for r, c in soft.tolist()
            for dy in (-1, 0, 1) for dx in (-1, 0, 1)}  # strands reach past their own tile
    rows, cols = np.array([t for t in sorted(near) if 0 <= t[0] < tiles_y and 0 <= t[1] < tiles_x]).T
    y0, x0 = rows.min() * MATTE_TILE, cols.min() * MATTE_TILE
    y1, x1 = min(height, (rows.max() + 1) * MATTE_TILE), min(width, (cols.max() + 1) * MATTE_TILE)
    y1, x1 = y0 + (y1 - y0) // step * step, x0 + (x1 - x0) // step * step  # whole samples of the small photo
    photo = guide[y0:y1, x0:x1]
    small_photo = block_mean(photo, step)
    if photo.dtype.kind in "ui":
        small_photo = np.round(small_photo).astype(photo.dtype)
    inside = mask[y0:y1, x0:x1] > 0.5
    small = (block_mean(inside[..., None].astype(np.uint8), step)[..., 0] > 0.5).astype(np.float32)
    matte(small, small_photo, *settings)
    found = (small > 0) & (small <= 0.5)
    found = neighbours(np.pad(found, 1), np.logical_or) | found  # a pixel's samples reach one cell around it
    sy, sx = np.nonzero(found)
    within = np.arange(step)  # the full-size pixels of each small one
    ys = np.repeat((sy * step)[:, None] + within, step, axis=1).ravel()
    xs = np.tile((sx * step)[:, None] + within, (1, step)).ravel()
    tiles = np.zeros((rows.max() - rows.min() + 1, cols.max() - cols.min() + 1), bool)  # the crop starts at a tile
    tiles[rows - rows.min(), cols - cols.min()] = True
    keep = ~inside[ys, xs] & tiles[ys // MATTE_TILE, xs // MATTE_TILE]
    ys, xs = ys[keep], xs[keep]
    more = np.minimum(bilinear_points(small, (ys + 0.5) / step - 0.5, (xs + 0.5) / step - 0.5), 0.5)
    region = mask[y0:y1, x0:x1]
    region[ys, xs] = np.maximum(region[ys, xs], more)


MATTE_CELLS = MATTE_TILE // MATTE_STEP  # cells a side of a tile
MATTE_HALO = MATTE_WINDOW // MATTE_STEP  # cells past a tile's border that its windows read


@dataclass(frozen=True)
class _MatteWork:
    """One matte's inputs, shared by its tiles (each tile reads them only)."""

    mask: np.ndarray
    guide: np.ndarray
    radius: int  # pixels inside the edge that get an alpha
    reach: int  # pixels outside it that do
    white: float
    eps: float
    floor: float

    def tile(self, box: tuple[int, int, int, int]) -> "_TilePart | None":
        """A tile's part of the band; None without a band."""
        height, width = self.mask.shape
        r0, r1, c0, c1 = box
        halo = MATTE_HALO * MATTE_STEP  # pixels past the tile that its windows read
        depth = halo + max(self.radius, self.reach) + 1  # and the band there depends on the mask this far
        y0, x0 = max(0, r0 - depth), max(0, c0 - depth)
        inside = self.mask[y0:min(height, r1 + depth), x0:min(width, c1 + depth)] > 0.5
        band = _near_edge(inside, self.radius, self.reach)
        tile = (slice(r0 - y0, r1 - y0), slice(c0 - x0, c1 - x0))
        if not band[tile].any():
            return None
        fy0, fy1, fx0, fx1 = max(0, r0 - halo), min(height, r1 + halo), max(0, c0 - halo), min(width, c1 + halo)
        colour = np.moveaxis(self.guide[fy0:fy1, fx0:fx1], -1, 0).astype(np.float32)  # planes: (C, h, w)
        colour *= np.float32(1 / self.white)
        square = np.einsum("chw,chw->hw", colour, colour)
        frame = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
        side = MATTE_TILE + 2 * halo  # the frame at full size; zeros past the image stay out of every sum
        rest = _off_band_sums(colour, square, inside[frame], band[frame],
                              ((fy0 - r0 + halo, r0 + side - halo - fy1), (fx0 - c0 + halo, c0 + side - halo - fx1)))
        rows, cols = np.nonzero(band[tile])
        cell = (rows // MATTE_STEP) * MATTE_CELLS + cols // MATTE_STEP
        order = np.argsort(cell, kind="stable")
        rows, cols, cell = rows[order], cols[order], cell[order]
        starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
        touch = np.zeros((MATTE_TILE, MATTE_TILE), bool)
        touch[:r1 - r0, :c1 - c0] = neighbours(np.pad(inside, 1), np.logical_or)[tile]
        y, x = rows + r0 - fy0, cols + c0 - fx0
        pixels = np.concatenate([colour[:, y, x], square[None, y, x]])
        return _TilePart(box, rows, cols, pixels, self.mask[r0:r1, c0:c1][rows, cols], starts, cell[starts], rest,
                         touch)


class _TilePart(NamedTuple):
    """One tile's part of the band, in the tile's own frame (:class:`_Band` holds every tile's)."""

    box: tuple[int, int, int, int]  # the tile in the mask: r0, r1, c0, c1
    rows: np.ndarray  # the pixels that get an alpha, ordered by cell
    cols: np.ndarray
    pixels: np.ndarray  # their colours and squared norms, (C + 1, n)
    before: np.ndarray  # their values in the mask the other stages made
    starts: np.ndarray  # where each cell's pixels start
    cells: np.ndarray  # which cell it is (row * MATTE_CELLS + column)
    rest: np.ndarray  # the sums off the band over the tile's cells and MATTE_HALO more around (_off_band_sums)
    touch: np.ndarray  # the pixels beside the inside, (MATTE_TILE, MATTE_TILE)


@dataclass(frozen=True)
class _Band:
    """The band along the mask's edge, every tile's part at once. Pixels are ordered by tile and by cell; the
    tiles' arrays are stacked at full size (a tile cut at the image's border is padded with zeros)."""

    origins: np.ndarray  # each tile's first row and column in the mask: (t, 2)
    rows: np.ndarray  # the pixels in the mask
    cols: np.ndarray
    at: np.ndarray  # the pixels in the stack of tiles (tile, row, column), flat
    pixels: np.ndarray  # their colours and squared norms, (C + 1, n)
    before: np.ndarray  # their values in the mask the other stages made
    starts: np.ndarray  # where each cell's pixels start
    cells: np.ndarray  # which cell it is in the stack of the tiles' cells (tile, row, column), flat
    cell_of: np.ndarray  # each pixel's cell, by its place in ``cells``
    rest: np.ndarray  # each tile's sums off the band over its cells and MATTE_HALO more around: (t, h, w, 2C + 5)
    touch: np.ndarray  # the pixels beside the inside, (t, MATTE_TILE, MATTE_TILE)
    around: np.ndarray  # each tile's neighbour tiles (3 x 3, the tile in the middle; -1: none): (t, 3, 3)
    first_pixel: np.ndarray  # where each tile's pixels start, and their end: (t + 1,)
    first_cell: np.ndarray  # where each tile's cells start in ``cells``, and their end: (t + 1,)

    @classmethod
    def of(cls, tiles: list[_TilePart]) -> "_Band | None":
        """The band from its tiles' parts (:meth:`_MatteWork.tile`); None without any."""
        if not tiles:
            return None
        origins = np.array([(t.box[0], t.box[2]) for t in tiles])
        counts = [len(t.rows) for t in tiles]
        tile = np.repeat(np.arange(len(tiles)), counts)
        starts = np.concatenate([t.starts + o for t, o in zip(tiles, np.cumsum([0] + counts[:-1]))])
        key = {(r0 // MATTE_TILE, c0 // MATTE_TILE): i for i, (r0, c0) in enumerate(origins)}
        around = [[[key.get((r0 // MATTE_TILE + dy, c0 // MATTE_TILE + dx), -1) for dx in (-1, 0, 1)]
                   for dy in (-1, 0, 1)] for r0, c0 in origins]
        r, c = np.concatenate([t.rows for t in tiles]), np.concatenate([t.cols for t in tiles])
        return cls(origins, r + origins[tile, 0], c + origins[tile, 1], (tile * MATTE_TILE + r) * MATTE_TILE + c,
                   np.concatenate([t.pixels for t in tiles], axis=1), np.concatenate([t.before for t in tiles]),
                   starts, np.concatenate([t.cells + i * MATTE_CELLS ** 2 for i, t in enumerate(tiles)]),
                   np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(r)])),
                   np.stack([t.rest for t in tiles]), np.stack([t.touch for t in tiles]), np.array(around),
                   np.cumsum([0] + counts), np.cumsum([0] + [len(t.cells) for t in tiles]))

    def parts(self, n: int) -> list[tuple[int, int]]:
        """The band cut into ``n`` runs of whole tiles (first, end) with about as many pixels each."""
        cuts = np.searchsorted(self.first_pixel, np.arange(1, n) * self.first_pixel[-1] / n)
        edges = np.unique(np.r_[0, cuts, len(self.rest)])
        return list(zip(edges[:-1].tolist(), edges[1:].tolist()))

    def pixels_of(self, part: tuple[int, int]) -> slice:
        return slice(self.first_pixel[part[0]], self.first_pixel[part[1]])

    def sums(self, alpha: np.ndarray, part: tuple[int, int]) -> np.ndarray:
        """The part's pixels' colours summed by cell, weighted by alpha^4 and (1 - alpha)^4 (``alpha``, the
        part's): (tiles, MATTE_CELLS, MATTE_CELLS, 2C + 4)."""
        (t0, t1), px, (q0, q1) = part, self.pixels_of(part), self.first_cell[list(part)]
        sums = np.zeros(((t1 - t0) * MATTE_CELLS ** 2, self.rest.shape[-1] - 1), np.float32)
        _add_weighted(sums, self.starts[q0:q1] - px.start, self.cells[q0:q1] - t0 * MATTE_CELLS ** 2,
                      self.pixels[:, px], alpha)
        return sums.reshape(t1 - t0, MATTE_CELLS, MATTE_CELLS, -1)

    def unmix(self, sums: np.ndarray, floor: float, eps: float,
              part: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """One pass on a part of the band: the alpha unmixed from F and B of each pixel's window (``sums``,
        every tile's, weighted by the last pass's alpha), as how far each pixel is from its side of the mask
        (over the part's tiles, 0 off the band), and how far each pixel's answer is trusted. F, B and the spread
        are those of the pixel's cell's window, so all but the unmixing itself runs per cell."""
        (t0, t1), px, (q0, q1) = part, self.pixels_of(part), self.first_cell[list(part)]
        pixels, c = self.pixels[:, px], self.pixels.shape[0] - 1
        totals = self.rest[t0:t1].copy()
        totals[..., :-1] += _halo(sums, self.around[t0:t1], MATTE_HALO)
        span = range(2 * MATTE_HALO + 1)  # a window's cells along each axis, centred on the tile's cells
        totals = functools.reduce(np.add, [totals[:, i:i + MATTE_CELLS] for i in span])
        totals = functools.reduce(np.add, [totals[:, :, i:i + MATTE_CELLS] for i in span])
        means = totals.reshape(-1, totals.shape[-1])[self.cells[q0:q1] - t0 * MATTE_CELLS ** 2]
        means = means[:, :-1] / means[:, -1:]  # the last channel counts the pixels
        weight = means[:, -2:]
        fore = means[:, :c + 1] / np.maximum(weight[:, :1], 1e-6)
        back = means[:, c + 1:2 * c + 2] / np.maximum(weight[:, 1:], 1e-6)
        spread = np.stack([np.maximum(m[:, c] - np.einsum("nc,nc->n", m[:, :c], m[:, :c]), 0)
                           for m in (fore, back)], axis=-1)
        spread = np.where((weight > 1e-3).all(axis=-1, keepdims=True), spread, 1e6)  # no weight: no trust
        d = fore[:, :c] - back[:, :c]
        d2 = np.einsum("nc,nc->n", d, d)
        trust = np.where(d2 > 1e-8, d2 / (d2 + MATTE_SPREAD * spread.sum(axis=1) + eps), 0)  # below: rounding
        d2 = np.maximum(d2, 1e-12)
        noise = floor * np.sqrt(spread / c / d2[:, None])  # in alpha units along F - B: inside, outside
        at, inside = self.cell_of[px] - q0, self.before[px] > 0.5
        unmixed = np.einsum("cn,nc->n", pixels[:c], d[at]) - np.einsum("nc,nc->n", back[:, :c], d)[at]
        unmixed /= d2[at]
        away = np.zeros((t1 - t0) * MATTE_TILE ** 2, np.float32)
        away[self.at[px] - t0 * MATTE_TILE ** 2] = _above_noise(np.where(inside, 1 - unmixed, unmixed),
                                                                np.where(inside, *noise[at].T))
        return away.reshape(-1, MATTE_TILE, MATTE_TILE), trust[at]

    def settle(self, away: np.ndarray, trust: np.ndarray, part: tuple[int, int]) -> np.ndarray:
        """The new alpha of a part's pixels from ``away`` (:meth:`unmix`, every tile's): no pixel keeps more of
        it than its most opaque 8-neighbour has (noise the floor let through makes single pixels, strands and
        edges make runs of pixels), the answer is trusted as far as ``trust`` (the part's) says, and the pixel
        stays on its side of 0.5."""
        (t0, t1), px = part, self.pixels_of(part)
        around = _halo(away, self.around[t0:t1], 1)
        supported = np.minimum(away[t0:t1], neighbours(around, np.maximum)).reshape(-1)
        supported = supported[self.at[px] - t0 * MATTE_TILE ** 2]
        before = self.before[px]
        inside = before > 0.5
        after = trust * np.where(inside, 1 - supported, supported) + (1 - trust) * before
        return np.where(inside, np.maximum(after, HELD_IN), np.minimum(after, 0.5)).astype(np.float32)

    def loose_runs(self, alpha: np.ndarray) -> tuple[np.ndarray, ...]:
        """The runs (rows, starts, ends in the mask) of partial opacity outside the mask in each tile, and
        whether each touches the inside (8-connected): what :func:`_drop_unjoined` joins across the tiles."""
        outside = np.zeros(len(self.rest) * MATTE_TILE ** 2, bool)
        outside[self.at] = (alpha > 0) & (self.before <= 0.5)
        outside = outside.reshape(-1, MATTE_TILE)  # the tiles' rows one after another
        r, s, e = row_runs(outside)
        counts = np.zeros((outside.shape[0], MATTE_TILE + 1), np.int32)
        np.cumsum(self.touch.reshape(-1, MATTE_TILE) & outside, axis=1, out=counts[:, 1:])
        r0, c0 = self.origins[r // MATTE_TILE].T
        return r0 + r % MATTE_TILE, c0 + s, c0 + e, counts[r, e] > counts[r, s]

    def soft_tiles(self, alpha: np.ndarray) -> np.ndarray:
        """The tiles (their first row and column in the mask) whose band outside the mask got partial opacity
        in at least MATTE_SOFT of its pixels: fur. Beside a hard edge the noise floor lets through a few percent
        (2.3 % of Gaussian noise at 2 standard deviations), so a hard edge, even in a noisy photo, is none."""
        outside = (self.before <= 0.5).astype(np.int64)
        opaque = outside * (alpha > 0)
        edges = self.first_pixel[:-1]
        count, partial = np.add.reduceat(outside, edges), np.add.reduceat(opaque, edges)
        return self.origins[(count >= MATTE_SOFT_MIN) & (partial >= MATTE_SOFT * count)]


def _halo(stack: np.ndarray, around: np.ndarray, k: int) -> np.ndarray:
    """The arrays in ``stack`` (t, h, w, ...) of the tiles whose neighbours ``around`` gives (:class:`_Band`),
    each with ``k`` rows and columns of its neighbour tiles' arrays around it, zeros where there is none: what
    a window at a tile's border reads."""
    h, w = stack.shape[1:3]
    out = np.zeros((len(around), h + 2 * k, w + 2 * k) + stack.shape[3:], stack.dtype)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            which = around[:, dy + 1, dx + 1]
            have = np.flatnonzero(which >= 0)
            (src_y, dst_y), (src_x, dst_x) = _halo_slices(dy, h, k), _halo_slices(dx, w, k)
            out[have, dst_y, dst_x] = stack[which[have], src_y, src_x]
    return out


def _halo_slices(d: int, n: int, k: int) -> tuple[slice, slice]:
    """Along one axis, the part of the neighbour tile at side ``d`` (-1, 0, 1) that a halo of ``k`` around a
    tile ``n`` long holds, and where it goes in the tile's array with its halo."""
    if d < 0:
        return slice(n - k, n), slice(0, k)
    return (slice(0, k), slice(k + n, 2 * k + n)) if d > 0 else (slice(None), slice(k, k + n))


def _off_band_sums(colour: np.ndarray, square: np.ndarray, inside: np.ndarray, band: np.ndarray,
                   pad: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """The colours (planes, (C, h, w)) and squared norms of the pixels off the band summed by cell of MATTE_STEP
    pixels, those inside and those outside apart, then their counts, then the count of all pixels:
    (cells, cells, 2C + 5). ``pad`` (pixels before and after, along both axes) makes whole cells; zeros stay
    out of every sum."""
    (top, bottom), (left, right) = pad
    c, h, w = colour.shape
    values = np.zeros((2 * c + 5, top + h + bottom, left + w + right), np.float32)
    view = values[:, top:top + h, left:left + w]
    view[2 * c + 2] = inside & ~band
    view[2 * c + 3] = ~inside & ~band
    view[2 * c + 4] = 1
    for side in (0, 1):
        weight, out = view[2 * c + 2 + side], view[side * (c + 1):(side + 1) * (c + 1)]
        np.multiply(colour, weight, out=out[:c])
        np.multiply(square, weight, out=out[c])
    rows = functools.reduce(np.add, [values[:, i::MATTE_STEP] for i in range(MATTE_STEP)])
    return np.moveaxis(functools.reduce(np.add, [rows[:, :, i::MATTE_STEP] for i in range(MATTE_STEP)]), 0, -1)


def _drop_unjoined(mask: np.ndarray, loose: tuple[np.ndarray, ...]) -> None:
    """Set to 0 the partial opacity outside the mask that no path of partial opacity joins to the inside:
    ``loose`` holds the tiles' runs of it (:meth:`_Band.loose_runs`), joined here across the tiles."""
    rows, starts, ends, touching = loose
    if not len(rows):
        return
    order = np.lexsort((starts, rows))
    rows, starts, ends, touching = rows[order].astype(np.int64), starts[order], ends[order], touching[order]
    heads = np.flatnonzero(np.r_[True, (rows[1:] != rows[:-1]) | (starts[1:] != ends[:-1])])  # runs cut at tiles
    tails = np.r_[heads[1:], len(rows)] - 1
    rows, starts, ends = rows[heads], starts[heads].astype(np.int64), ends[tails].astype(np.int64)
    width = mask.shape[1]
    runs = Runs(rows, starts, ends, union_runs(rows, starts, ends, width), width)
    runs.paint(mask, np.setdiff1d(runs.labels, runs.labels[np.logical_or.reduceat(touching, heads)]), 0.0)


def _add_weighted(sums: np.ndarray, starts: np.ndarray, heads: np.ndarray, small: np.ndarray,
                  alpha: np.ndarray) -> None:
    """Add to each cell's row of ``sums`` its pixels' colours and squared norms (``small``, planes (C + 1, n),
    pixels ordered by cell, cell ``heads[i]``'s from ``starts[i]``) weighted by alpha^4 and by (1 - alpha)^4
    (:func:`matte`: mixed pixels count little), then the two weights: (cells, 2C + 4)."""
    k = small.shape[0]
    values = np.empty((2 * k + 2, small.shape[1]), np.float32)
    for weight, side in ((values[2 * k], alpha), (values[2 * k + 1], 1 - alpha)):
        np.square(side, out=weight)
        np.square(weight, out=weight)
    np.multiply(small, values[2 * k], out=values[:k])
    np.multiply(small, values[2 * k + 1], out=values[k:2 * k])
    sums[heads] += np.add.reduceat(values, starts, axis=1).T


def _near_edge(inside: np.ndarray, inward: int, outward: int) -> np.ndarray:
    """Pixels inside the mask within ``inward`` (a square's half side) of a pixel whose 4-neighbour lies on the
    mask's other side, and pixels outside it within ``outward``."""
    edge = np.zeros(inside.shape, bool)
    for axis in (0, 1):
        step = np.diff(inside, axis=axis)
        lo, hi = [slice(None)] * 2, [slice(None)] * 2
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        edge[tuple(lo)] |= step
        edge[tuple(hi)] |= step
    near = _grown(edge, min(inward, outward))
    far = _grown(near, abs(outward - inward))  # a square grown by a, then by b, is one grown by a + b
    return np.where(inside, near, far) if outward >= inward else np.where(inside, far, near)


def _grown(edge: np.ndarray, by: int) -> np.ndarray:
    """``edge`` grown by a square of half side ``by``: along each axis, by steps that double."""
    for axis in (0, 1):
        grown, step = 0, 1
        while grown < by:
            shift = min(step, by - grown)
            lo, hi = [slice(None)] * 2, [slice(None)] * 2
            lo[axis], hi[axis] = slice(0, -shift), slice(shift, None)
            wider = edge.copy()
            wider[tuple(hi)] |= edge[tuple(lo)]
            wider[tuple(lo)] |= edge[tuple(hi)]
            edge, grown, step = wider, grown + shift, 2 * step
    return edge


def _above_noise(away: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """How far each pixel is from its side of the mask (``away``: the unmixed, unclipped alpha outside the mask,
    1 - alpha inside), kept where it stands above what the photo's noise alone would give and 0 below: ``noise``,
    ``floor`` standard deviations of the colours that F and B are the means of, in alpha units along F - B. So a
    hard edge in a noisy or textured photo gets no faint opacity around it, while a strand clearly of the object's
    colour keeps all of its alpha (taking the floor off every pixel instead made each strand fainter by it).
    A colour past the other side's (a bright star beside dark fur) is no mix of the two: it folds back towards its
    own side."""
    away = np.where(away > 1, 2 - away, away)
    return np.where(away > noise, np.clip(away, 0, 1), 0)


def _band_tiles(mask: np.ndarray, tile: int, radius: float) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (r0, r1, c0, c1) of the ``tile``-sided tiles that hold pixels within ``radius`` of an edge of
    the 0/1 mask. Edges are found on cells of a quarter tile (neither all 0 nor all 1, or all 1 beside all 0),
    grown by the radius."""
    height, width = mask.shape
    cell = tile // 4
    starts_y, starts_x = np.arange(0, height, cell), np.arange(0, width, cell)
    sums = np.add.reduceat(np.add.reduceat(mask, starts_x, axis=1), starts_y, axis=0)
    areas = np.outer(np.diff(starts_y, append=height), np.diff(starts_x, append=width))
    full, empty = sums == areas, sums == 0
    beside = neighbours(np.pad(full, 1), np.logical_or) & empty | neighbours(np.pad(empty, 1), np.logical_or) & full
    edge = (~full & ~empty | beside).astype(np.float32)  # an edge along cells' borders leaves no cell mixed
    band = box_mean(edge, int(np.ceil(radius / cell))) > 0
    rows, cols = -(-band.shape[0] // 4), -(-band.shape[1] // 4)
    padded = np.zeros((rows * 4, cols * 4), bool)
    padded[:band.shape[0], :band.shape[1]] = band
    hit = padded.reshape(rows, 4, cols, 4).any(axis=(1, 3))
    return [(ty * tile, min(height, (ty + 1) * tile), tx * tile, min(width, (tx + 1) * tile))
            for ty, tx in zip(*np.nonzero(hit))]
