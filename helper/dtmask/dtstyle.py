"""darktable .dtstyle files: attach a mask through the `rasterfile` module, and strip geometry from a history.

darktable has no Lua call that sets a module's parameters, but it imports and applies styles. So the helper writes:

- a *mask style*: one `rasterfile` instance pointing at the mask (and, for tests, an exposure instance blended
  through it), with the byte layouts verified on darktable 5.4.1 (docs/darktable.md, "Parameter bytes");
- *export styles*: the user's own history (saved by the Lua script with `dt.styles.create` + `export`) kept to its
  lean modules (LEAN_OPS) with every geometric module switched off, so a fresh duplicate exports in the frame the
  raster mask needs (docs/darktable.md, "How the bridge does it"): a small preview with the flip kept (what the
  picker shows) and the full-resolution guide without it.

Params are written as lowercase hex, read as hex or darktable's `gzNN` + base64(zlib) form.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DtmaskError, UsageError
from .imageio import atomic_write

if TYPE_CHECKING:
    from . import masks

MULTI_NAME = "dtmask"
RASTERFILE_VERSION = 1
EXPOSURE_VERSION = 7
BLEND_VERSION = 14
FLIP_VERSION = 2
PATH_MAX = 2048
MODE_ALL_CHANNELS = 7
MASK_MODE_RASTER = 1 | 8  # DEVELOP_MASK_ENABLED | DEVELOP_MASK_RASTER
BLEND_CST_RGB_SCENE = 4
BLEND_MODE_NORMAL = 0x18

# modules that move pixels: off in both exports (the flip stays on in the preview)
GEOMETRIC_OPS = ("flip", "crop", "clipping", "ashift", "lens", "liquify", "borders", "enlargecanvas")


# --- parameter bytes -------------------------------------------------------------------------------------------

def _cstr(text: str, size: int, what: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) >= size:
        raise UsageError(f"{what} is too long for darktable ({len(raw)} bytes, at most {size - 1})")
    return raw.ljust(size, b"\0")


def rasterfile_params(folder: str, filename: str, mode: int = MODE_ALL_CHANNELS) -> bytes:
    """rasterfile params v1 (4100 bytes): int32 mode, char path[2048] (absolute folder), char file[2048]."""
    if not Path(folder).is_absolute():
        raise UsageError(f"the mask folder must be absolute for darktable: {folder}")
    return struct.pack("<i", mode) + _cstr(folder, PATH_MAX, "mask folder") + _cstr(filename, PATH_MAX, "mask name")


def exposure_params(ev: float) -> bytes:
    """exposure params v7 (28 bytes): manual mode, black 0, `ev`, deflicker 50 / -4, no compensations."""
    return struct.pack("<iffffii", 0, 0.0, ev, 50.0, -4.0, 0, 0)


def blend_params(raster_source: str = "", raster_instance: int = 0) -> bytes:
    """blendop params v14 (420 bytes), scene-referred RGB defaults; with `raster_source`, blend through its mask.

    blend_cst must be RGB-scene (4): with 0 darktable reads the mask but skips the blend (docs/darktable.md,
    pitfall 1).
    """
    mask_mode = MASK_MODE_RASTER if raster_source else 0
    head = struct.pack("<IiIff", mask_mode, BLEND_CST_RGB_SCENE, BLEND_MODE_NORMAL, 0.0, 100.0)
    head += struct.pack("<III", 0, 0, 0)  # mask_combine, mask_id, blendif
    head += struct.pack("<fI", 0.0, 5)  # feathering radius, guide
    head += struct.pack("<ffff", 0.0, 0.0, 0.0, 0.0)  # blur radius, contrast, brightness, details
    head += struct.pack("<III", 1, 0, 0)  # feather_version, reserved[2]
    blendif = struct.pack("<4f", 0.0, 0.0, 1.0, 1.0) * 16
    boost = [0.0] * 16
    for i in (8, 9, 12, 13):
        boost[i] = math.log2(0.01)
    tail = struct.pack("<16f", *boost)
    tail += _cstr(raster_source, 20, "raster mask source")
    tail += struct.pack("<iii", raster_instance, 0 if raster_source else -1, 0)
    data = head + blendif + tail
    assert len(data) == 420, len(data)
    return data


def encode_params(data: bytes) -> str:
    """The safe encoding darktable reads everywhere: lowercase hex."""
    return data.hex()


def decode_params(text: str) -> bytes:
    """Decode hex or darktable's `gzNN<base64 of zlib data>`."""
    text = text.strip()
    try:
        if text.startswith("gz"):
            return zlib.decompress(base64.b64decode(text[4:]))
        return bytes.fromhex(text)
    except (ValueError, zlib.error) as exc:
        raise DtmaskError(f"cannot decode darktable params {text[:16]!r}: {exc}") from None


# --- the style container ---------------------------------------------------------------------------------------

@dataclass
class Plugin:
    """One history item of a style; params are kept in their text encoding so unknown modules pass through."""

    num: int
    operation: str
    module: int
    op_params: str
    enabled: bool = True
    blendop_params: str | None = None
    blendop_version: int | None = None
    multi_priority: int = 0
    multi_name: str = ""
    multi_name_hand_edited: int | None = None


@dataclass
class Style:
    name: str
    description: str = ""
    iop_list: str | None = None
    plugins: list[Plugin] = field(default_factory=list)


def to_xml(style: Style) -> bytes:
    """The .dtstyle bytes darktable's `dt_styles_import_from_file` reads."""
    root = ET.Element("darktable_style", version="1.0")
    info = ET.SubElement(root, "info")
    ET.SubElement(info, "name").text = style.name
    ET.SubElement(info, "description").text = style.description
    if style.iop_list:
        ET.SubElement(info, "iop_list").text = style.iop_list
    body = ET.SubElement(root, "style")
    for p in style.plugins:
        el = ET.SubElement(body, "plugin")
        fields = [("num", p.num), ("module", p.module), ("operation", p.operation), ("op_params", p.op_params),
                  ("enabled", int(p.enabled))]
        if p.blendop_params is not None:
            fields += [("blendop_params", p.blendop_params), ("blendop_version", p.blendop_version)]
        fields += [("multi_priority", p.multi_priority), ("multi_name", p.multi_name)]
        if p.multi_name_hand_edited is not None:
            fields.append(("multi_name_hand_edited", p.multi_name_hand_edited))
        for tag, value in fields:
            ET.SubElement(el, tag).text = str(value)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def parse(data: bytes) -> Style:
    """Read a .dtstyle as darktable writes it (`dt.styles.export`)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DtmaskError(f"not a darktable style file: {exc}") from None
    if root.tag != "darktable_style":
        raise DtmaskError("not a darktable style file: no <darktable_style>")

    def text(el: ET.Element | None, tag: str, default: str = "") -> str:
        found = el.find(tag) if el is not None else None
        return found.text or "" if found is not None else default

    def opt_int(el: ET.Element, tag: str) -> int | None:
        return int(el.findtext(tag)) if el.find(tag) is not None and el.findtext(tag) else None

    info = root.find("info")
    style = Style(text(info, "name"), text(info, "description"), text(info, "iop_list") or None)
    for el in root.iterfind("style/plugin"):
        style.plugins.append(Plugin(
            num=int(text(el, "num", "0")), operation=text(el, "operation"), module=int(text(el, "module", "0")),
            op_params=text(el, "op_params"), enabled=text(el, "enabled", "1") != "0",
            blendop_params=el.findtext("blendop_params"), blendop_version=opt_int(el, "blendop_version"),
            multi_priority=int(text(el, "multi_priority", "0")), multi_name=text(el, "multi_name"),
            multi_name_hand_edited=opt_int(el, "multi_name_hand_edited")))
    return style


# --- the mask style --------------------------------------------------------------------------------------------

def style_name_for(mask: Path) -> str:
    """A name unique per mask: darktable silently ignores importing a name it already has (docs/darktable.md,
    pitfall 3)."""
    return f"dtmask {mask.stem}"


def mask_style(mask: str | Path, exposure_ev: float | None = None, name: str | None = None,
               multi_name: str = MULTI_NAME, instance: int = 0, enabled: bool = True,
               off_before: Sequence[str] = ()) -> Style:
    """A rasterfile instance named `multi_name` reading `mask`; optionally an exposure blended through it, which
    must name the instance (multi_priority) darktable gives it: `instance`.

    The multi_name keeps the user's own instances apart (docs/darktable.md, pitfall 4). `enabled` False switches
    the named instance off in place (with the new file), the first half of replacing a mask; `off_before` names
    switched-off instances to keep off: darktable fills switched-off instances first, in order, so they go before.
    The mask need not exist yet: the bridge writes the style before the picker runs.
    """
    path = Path(mask).absolute()
    if path.suffix.lower() != ".pfm":
        raise UsageError(f"darktable 5.2-5.4 reads PFM masks only, not {path.name}")
    params = encode_params(rasterfile_params(str(path.parent), path.name))

    def raster(num: int, on: bool, label: str) -> Plugin:
        return Plugin(num, "rasterfile", RASTERFILE_VERSION, params, on, encode_params(blend_params()),
                      BLEND_VERSION, 0, label, 1)

    plugins = [raster(i, False, label) for i, label in enumerate(off_before)]
    plugins.append(raster(len(plugins), enabled, multi_name))
    if exposure_ev is not None and enabled:
        plugins.append(Plugin(len(plugins), "exposure", EXPOSURE_VERSION, encode_params(exposure_params(exposure_ev)),
                              True, encode_params(blend_params("rasterfile", instance)), BLEND_VERSION, 0,
                              multi_name, 1))
    return Style(name or style_name_for(path), f"dtmask raster mask {path.name}", None, plugins)


def write_mask_style(mask: str | Path, target: Path, exposure_ev: float | None = None) -> str:
    """Write the style that attaches `mask` to `target`; return the style name to look up after import."""
    style = mask_style(mask, exposure_ev)
    with atomic_write(target) as f:
        f.write(to_xml(style))
    return style.name


def write_for_mask(mask: str | Path, exposure_ev: float | None = None) -> tuple[Path, str]:
    """Write `<mask stem>.dtstyle` next to an existing mask; return its path and the style name."""
    mask = Path(mask)
    if not mask.is_file():
        raise UsageError(f"no such mask file: {mask}")
    target = mask.with_suffix(".dtstyle")
    return target, write_mask_style(mask, target, exposure_ev)


# --- export styles: the photo in the raster frame, developed lean -------------------------------------------------

# What a clean, demosaiced, white-balanced, tone-mapped picture needs, and cheap per pixel. The exports the picker
# gets keep only these modules of the user's history: a mask's geometry does not depend on the others, and heavy
# ones (diffuse or sharpen, denoise, local contrast) made a full-size export take minutes instead of seconds.
LEAN_OPS = ("rawprepare", "temperature", "highlights", "demosaic", "colorin", "colorout", "gamma",
            "exposure", "filmicrgb", "filmic", "sigmoid", "agx", "basecurve", "tonecurve", "rgbcurve", "rgblevels",
            "levels", "channelmixerrgb", "colorbalancergb", "basicadj", "negadoctor", "invert", "colorchecker")


def without_geometry(history: Style | None, name: str, keep_flip: bool = False) -> Style:
    """The history with every geometric module off (the flip too unless `keep_flip`).

    A never-edited image has no flip item but darktable turns the flip on by default, so an explicit disabled
    one is added; with no item to copy the blend params from, none are written and darktable uses its defaults.
    """
    base = history or Style(name)
    plugins = [replace(p, enabled=False) if p.operation in GEOMETRIC_OPS and not (keep_flip and p.operation == "flip")
               else replace(p) for p in base.plugins]
    if not keep_flip and not any(p.operation == "flip" and p.multi_priority == 0 for p in plugins):
        plugins.append(Plugin(max((p.num for p in plugins), default=-1) + 1, "flip", FLIP_VERSION,
                              encode_params(struct.pack("<i", -1)), False))
    return Style(name, "dtmask: temporary export style", base.iop_list, plugins)


def lean(history: Style | None) -> Style | None:
    """The history with only the LEAN_OPS modules (the others are left at darktable's defaults, mostly off) and
    the geometric ones, kept so that they can be switched off explicitly (lens correction may be on by default)."""
    if history is None:
        return None
    keep = LEAN_OPS + GEOMETRIC_OPS
    return replace(history, plugins=[p for p in history.plugins if p.operation in keep])


_NAME_OK = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_tag(tag: str) -> None:
    """Style tags go into style and file names."""
    if not _NAME_OK.match(tag):
        raise UsageError(f"style tag must be letters, digits, '.', '_' or '-': {tag!r}")

# the two exports: what the picker shows and encodes (as darktable displays the photo, flip on) and the
# full-resolution guide for the mask's edges (the raster frame: flip off)
EXPORTS = {"preview": True, "guide": False}


def write_export_styles(history: Path | None, out_dir: Path, tag: str) -> dict[str, dict[str, str]]:
    """Write the preview and guide export styles for one selection; names are `dtmask_<kind>_<tag>`."""
    check_tag(tag)
    parsed = lean(parse(history.read_bytes()) if history else None)
    result = {}
    for kind, keep_flip in EXPORTS.items():
        name = f"dtmask_{kind}_{tag}"
        target = out_dir / f"{name}.dtstyle"
        with atomic_write(target) as f:
            f.write(to_xml(without_geometry(parsed, name, keep_flip)))
        result[kind] = {"path": str(target), "name": name}
    return result


def _write_style(style: Style, out_dir: Path) -> dict[str, str]:
    target = out_dir / f"{style.name}.dtstyle"
    with atomic_write(target) as f:
        f.write(to_xml(style))
    return {"path": str(target), "name": style.name}


def attach_styles(target: "masks.Target", out_dir: Path, exposure_ev: float | None = None) -> dict[str, dict]:
    """The styles that attach a selection's mask, applied in this order: `mask_off` (only when the name has an
    instance already: it switches that instance off with the new file, so that) `mask` switches it on in place;
    darktable's merge adds a new instance for an enabled item otherwise (docs/darktable.md, pitfall 12)."""
    stem = Path(target.mask).stem
    styles = {}
    if target.replace:
        styles["mask_off"] = _write_style(mask_style(target.mask, name=f"dtmask off {stem}",
                                                     multi_name=target.name, enabled=False), out_dir)
    styles["mask"] = _write_style(mask_style(target.mask, exposure_ev, multi_name=target.name,
                                             instance=target.instance,
                                             off_before=[n for n, _ in target.off_before]), out_dir)
    return styles


def off_style(name: str, mask_folder: Path, out_dir: Path, tag: str) -> dict[str, str]:
    """The style that switches the instance named `name` off (removing a mask): a disabled item replaces the
    instance of the same name in place."""
    placeholder = Path(mask_folder).absolute() / f"removed_{tag}.pfm"  # never read: the instance is off
    return _write_style(mask_style(placeholder, name=f"dtmask remove {tag}", multi_name=name, enabled=False),
                        out_dir)


def highest_instance(history: Path | None, names: Sequence[str]) -> int:
    """The highest rasterfile instance in a history that is not one of `names` (dtmask's own); -1 for none."""
    if history is None:
        return -1
    found = [p.multi_priority for p in parse(history.read_bytes()).plugins
             if p.operation == "rasterfile" and p.multi_name not in names]
    return max(found, default=-1)


def prepare(history: Path | None, out_dir: Path, tag: str, target: "masks.Target",
            exposure_ev: float | None = None) -> dict[str, dict]:
    """Everything the bridge imports for one selection, in one helper run: the two export styles and the styles
    that will attach the target's mask (written before the mask exists; applied once it is there)."""
    result = write_export_styles(history, out_dir, tag)
    result.update(attach_styles(target, out_dir, exposure_ev))
    return result
