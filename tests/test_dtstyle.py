"""The .dtstyle bytes against docs/darktable.md (the layouts darktable 5.4.1 wrote back itself)."""

from __future__ import annotations

import base64
import math
import struct
import zlib
from pathlib import Path

import pytest

from dtmask import dtstyle, masks
from dtmask.errors import UsageError

# a style darktable 4.2.1 exported with dt.styles.create + export (flip rotated, crop), iop_list shortened
DARKTABLE_STYLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<darktable_style version="1.0"><info><name>probe_hist</name><description>x</description><iop_list>rawprepare,0,flip,0,crop,0</iop_list></info><style><plugin><num>1</num><module>1</module><operation>crop</operation><op_params>cdcccc3dcdcccc3dcdcc4c3f6666663f0000000000000000</op_params><enabled>1</enabled><blendop_params>gz11eJxjYGBgkGAAgRNODGiAEV0AJ2iwh+CRyscOAAdeGQQ=</blendop_params><blendop_version>11</blendop_version><multi_priority>0</multi_priority><multi_name></multi_name></plugin><plugin><num>0</num><module>2</module><operation>flip</operation><op_params>06000000</op_params><enabled>1</enabled><blendop_params>gz11eJxjYGBgkGAAgRNODGiAEV0AJ2iwh+CRyscOAAdeGQQ=</blendop_params><blendop_version>11</blendop_version><multi_priority>0</multi_priority><multi_name></multi_name></plugin></style></darktable_style>"""


def test_rasterfile_params_layout():
    data = dtstyle.rasterfile_params("/photos/masks/dtmask", "IMG 1_3_t.pfm")
    assert len(data) == 4100
    assert struct.unpack_from("<i", data, 0) == (7,)
    assert data[4:4 + 2048].rstrip(b"\0") == b"/photos/masks/dtmask"
    assert data[2052:].rstrip(b"\0") == b"IMG 1_3_t.pfm"
    assert data[4 + 20] == 0 and data[-1] == 0


def test_rasterfile_params_refuses_relative_and_overlong_paths():
    with pytest.raises(UsageError):
        dtstyle.rasterfile_params("masks", "m.pfm")
    with pytest.raises(UsageError):
        dtstyle.rasterfile_params("/" + "x" * 2047, "m.pfm")
    assert len(dtstyle.rasterfile_params("/ü" * 100, "é.pfm")) == 4100  # UTF-8 bytes fit


def test_exposure_params_layout():
    data = dtstyle.exposure_params(2.0)
    assert len(data) == 28
    assert struct.unpack("<iffffii", data) == (0, 0.0, 2.0, 50.0, -4.0, 0, 0)


def test_blend_params_through_raster_mask():
    data = dtstyle.blend_params("rasterfile", 0)
    assert len(data) == 420
    mask_mode, blend_cst, blend_mode, parameter, opacity = struct.unpack_from("<IiIff", data, 0)
    assert (mask_mode, blend_cst, blend_mode, parameter, opacity) == (9, 4, 0x18, 0.0, 100.0)
    assert struct.unpack_from("<III", data, 20) == (0, 0, 0)
    assert struct.unpack_from("<fI", data, 32) == (0.0, 5)
    assert struct.unpack_from("<I", data, 56) == (1,)
    assert struct.unpack_from("<64f", data, 68) == (0.0, 0.0, 1.0, 1.0) * 16
    boost = struct.unpack_from("<16f", data, 324)
    assert [i for i, b in enumerate(boost) if b] == [8, 9, 12, 13]
    assert boost[8] == pytest.approx(math.log2(0.01))
    assert data[388:408].rstrip(b"\0") == b"rasterfile"
    assert struct.unpack_from("<iii", data, 408) == (0, 0, 0)


def test_default_blend_params_use_no_mask():
    data = dtstyle.blend_params()
    assert struct.unpack_from("<Ii", data, 0) == (0, 4)
    assert data[388:408] == b"\0" * 20
    assert struct.unpack_from("<ii", data, 408) == (0, -1)


def test_param_encodings_round_trip():
    raw = dtstyle.blend_params("rasterfile")
    assert dtstyle.decode_params(dtstyle.encode_params(raw)) == raw
    assert dtstyle.encode_params(b"\x01\xab") == "01ab"
    packed = zlib.compress(raw)
    gz = f"gz{min(len(raw) // len(packed) + 1, 99):02d}" + base64.b64encode(packed).decode()
    assert dtstyle.decode_params(gz) == raw


def test_mask_style_xml(tmp_path: Path):
    mask = tmp_path / "my photo 'ü'_3_t.pfm"
    mask.write_bytes(b"Pf\n1 1\n-1.0\n\0\0\0\0")
    path, name = dtstyle.write_for_mask(mask, exposure_ev=2.0)
    assert path == tmp_path / "my photo 'ü'_3_t.dtstyle"
    assert name == "dtmask my photo 'ü'_3_t"
    style = dtstyle.parse(path.read_bytes())
    assert style.name == name
    raster, exposure = style.plugins
    assert (raster.operation, raster.module, raster.num, raster.multi_priority) == ("rasterfile", 1, 0, 0)
    assert (raster.multi_name, raster.multi_name_hand_edited, raster.enabled) == ("dtmask", 1, True)
    params = dtstyle.decode_params(raster.op_params)
    assert params[4:].split(b"\0")[0].decode() == str(tmp_path)
    assert params[2052:].split(b"\0")[0].decode() == mask.name
    assert (exposure.operation, exposure.module, exposure.blendop_version) == ("exposure", 7, 14)
    assert exposure.multi_name == "dtmask"
    assert dtstyle.decode_params(exposure.blendop_params) == dtstyle.blend_params("rasterfile", 0)
    assert b"<multi_name_hand_edited>1</multi_name_hand_edited>" in path.read_bytes()


def test_mask_style_without_exposure_and_refusals(tmp_path: Path):
    mask = tmp_path / "m.pfm"
    mask.write_bytes(b"Pf\n1 1\n-1.0\n\0\0\0\0")
    assert [p.operation for p in dtstyle.mask_style(mask).plugins] == ["rasterfile"]
    with pytest.raises(UsageError):
        dtstyle.write_for_mask(tmp_path / "missing.pfm")
    png = tmp_path / "m.png"
    png.write_bytes(b"x")
    with pytest.raises(UsageError, match="PFM"):
        dtstyle.write_for_mask(png)


def test_parse_darktable_written_style():
    style = dtstyle.parse(DARKTABLE_STYLE)
    assert style.name == "probe_hist" and style.iop_list.startswith("rawprepare")
    crop, flip = style.plugins
    assert struct.unpack("<ffffii", dtstyle.decode_params(crop.op_params))[2] == pytest.approx(0.8)
    assert dtstyle.decode_params(flip.op_params) == struct.pack("<i", 6)
    assert flip.blendop_version == 11 and flip.multi_name_hand_edited is None


def test_without_geometry_turns_geometric_modules_off():
    history = dtstyle.parse(DARKTABLE_STYLE)
    history.plugins.append(dtstyle.Plugin(2, "exposure", 6, "00", True, "aa", 11))
    raster = dtstyle.without_geometry(history, "r")
    state = {p.operation: p.enabled for p in raster.plugins}
    assert state == {"crop": False, "flip": False, "exposure": True}
    assert raster.iop_list == history.iop_list
    # params stay, so darktable accepts the items whatever their module versions are
    assert [p.op_params for p in raster.plugins] == [p.op_params for p in history.plugins]
    display = dtstyle.without_geometry(history, "d", keep_flip=True)
    assert {p.operation: p.enabled for p in display.plugins} == {"crop": False, "flip": True, "exposure": True}
    assert all(p.enabled for p in history.plugins)  # the input is not modified


def test_without_geometry_adds_a_disabled_flip_when_history_has_none():
    raster = dtstyle.without_geometry(None, "r")
    (flip,) = raster.plugins
    assert (flip.operation, flip.module, flip.enabled, flip.num) == ("flip", 2, False, 0)
    assert flip.blendop_params is None
    assert dtstyle.without_geometry(None, "d", keep_flip=True).plugins == []
    assert b"blendop" not in dtstyle.to_xml(raster)


def test_prepare_writes_lean_export_styles_and_the_mask_style(tmp_path: Path):
    history = tmp_path / "h.dtstyle"
    parsed = dtstyle.parse(DARKTABLE_STYLE)
    parsed.plugins += [dtstyle.Plugin(2, "exposure", 6, "00", True, "aa", 11),
                       dtstyle.Plugin(3, "diffuse", 2, "01", True, "bb", 13, 0, "fine details", 1)]
    history.write_bytes(dtstyle.to_xml(parsed))
    out = masks.prepare_selection(history, tmp_path, "12_20250101-120000", tmp_path / "masks", "photo.dng", 12,
                                  exposure_ev=2.0)
    mask = Path(out["target"]["mask"])  # not written yet: the picker writes it later
    assert mask == tmp_path / "masks" / "photo_12_dtmask-1_20250101-120000.pfm"
    assert out["preview"]["name"] == "dtmask_preview_12_20250101-120000"
    preview = dtstyle.parse(Path(out["preview"]["path"]).read_bytes())
    guide = dtstyle.parse(Path(out["guide"]["path"]).read_bytes())
    assert preview.name == out["preview"]["name"] and guide.name == out["guide"]["name"]
    # lean: the heavy module is left out of both; geometry off, the flip kept for the preview only
    assert {p.operation: p.enabled for p in preview.plugins} == {"crop": False, "flip": True, "exposure": True}
    assert {p.operation: p.enabled for p in guide.plugins} == {"crop": False, "flip": False, "exposure": True}
    attach = dtstyle.parse(Path(out["mask"]["path"]).read_bytes())
    assert attach.name == out["mask"]["name"] == "dtmask photo_12_dtmask-1_20250101-120000"
    raster, exposure = attach.plugins
    assert raster.multi_name == exposure.multi_name == "dtmask 1" and "mask_off" not in out
    assert dtstyle.decode_params(raster.op_params)[4:4 + len(str(mask.parent))] == str(mask.parent).encode()
    assert struct.unpack("<iffffii", dtstyle.decode_params(exposure.op_params))[2] == 2.0
    with pytest.raises(UsageError):
        masks.prepare_selection(history, tmp_path, "bad tag/..", tmp_path / "masks", "photo.dng", 12)


def test_lean_keeps_the_development_modules_and_drops_the_rest():
    names = ["rawprepare", "demosaic", "temperature", "exposure", "sigmoid", "colorbalancergb",
             "lens", "denoiseprofile", "diffuse", "bilat", "sharpen", "retouch"]
    history = dtstyle.Style("h", plugins=[dtstyle.Plugin(i, n, 1, "00") for i, n in enumerate(names)])
    assert [p.operation for p in dtstyle.lean(history).plugins] == names[:7]
    assert dtstyle.lean(None) is None
