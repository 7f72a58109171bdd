"""Several named masks per photo (dtmask.masks): files, index, instances, replace / edit / remove, and the styles."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from dtmask import dtstyle, masks, promptfile
from dtmask.errors import UsageError
from dtmask.model import Prompts


def select(tmp_path: Path, name: str | None, stamp: str, edit: bool = False, write: bool = True) -> dict:
    """One selection as the bridge runs it: prepare; then the picker writes mask and prompts and the bridge, once
    attached, renames the next index into place and deletes the replaced files; or (cancelled) deletes the new."""
    out = masks.prepare_selection(None, tmp_path, f"7_{stamp}", tmp_path / "m", "IMG 1.dng", 7, name, edit, 2.0)
    t = out["target"]
    if write:
        Path(t["mask"]).write_bytes(b"Pf\n1 1\n-1.0\n\0\0\0\0")
        promptfile.save(t["prompts"], promptfile.SavedPrompts(Prompts(points=[(1.0, 2.0)]), 10, 20, 6))
        Path(t["index_next"]).replace(t["index"])
        for f in t["replaces"]:
            Path(f).unlink()
    else:
        Path(t["index_next"]).unlink()
    return out


def plugins(style: dict) -> list[dtstyle.Plugin]:
    return dtstyle.parse(Path(style["path"]).read_bytes()).plugins


def blend_instance(p: dtstyle.Plugin) -> int:
    return struct.unpack("<i", dtstyle.decode_params(p.blendop_params)[408:412])[0]


def test_two_names_give_two_instances_each_with_its_exposure(tmp_path):
    a = select(tmp_path, None, "t1")
    b = select(tmp_path, "sky", "t2")
    assert a["target"]["name"] == "dtmask 1" and b["target"]["name"] == "sky"
    assert Path(b["target"]["mask"]).name == "IMG 1_7_sky_t2.pfm"
    for out, instance in ((a, 0), (b, 1)):
        raster, exposure = plugins(out["mask"])
        assert (raster.multi_name, raster.enabled) == (out["target"]["name"], True)
        assert blend_instance(exposure) == instance == out["target"]["instance"]
        assert "mask_off" not in out
    listing = masks.MaskSet(tmp_path / "m", "IMG 1.dng", 7)
    assert [m["name"] for m in listing.current()] == ["dtmask 1", "sky"] and listing.next_name() == "dtmask 2"


def test_a_name_selected_again_keeps_its_instance_and_is_switched_off_then_on(tmp_path):
    first = select(tmp_path, "sky", "t1")
    select(tmp_path, "subject", "t2")
    again = select(tmp_path, "sky", "t3")
    t = again["target"]
    assert t["instance"] == 0 and t["replace"] and t["replaces"] == [first["target"]["mask"],
                                                                     first["target"]["prompts"]]
    off, = plugins(again["mask_off"])
    assert (off.operation, off.multi_name, off.enabled) == ("rasterfile", "sky", False)
    assert dtstyle.decode_params(off.op_params) == dtstyle.decode_params(plugins(again["mask"])[0].op_params)
    current = {m["name"]: m["mask"] for m in masks.MaskSet(tmp_path / "m", "IMG 1.dng", 7).current()}
    assert current["sky"] == t["mask"]


def test_a_cancelled_selection_leaves_the_mask_as_it_was_and_nothing_behind(tmp_path):
    first = select(tmp_path, "sky", "t1")
    select(tmp_path, "sky", "t2", write=False)  # the picker was cancelled: no new files
    current, = masks.MaskSet(tmp_path / "m", "IMG 1.dng", 7).current()
    assert current["mask"] == first["target"]["mask"]
    select(tmp_path, "new", "t3", write=False)
    assert [m["name"] for m in masks.MaskSet(tmp_path / "m", "IMG 1.dng", 7).current()] == ["sky"]
    retry = select(tmp_path, "new", "t4")
    assert retry["target"]["instance"] == 1 and "mask_off" not in retry
    assert len(list((tmp_path / "m").iterdir())) == 5  # two masks, their prompts, the index
    fresh = tmp_path / "fresh"
    out = masks.prepare_selection(None, tmp_path, "8_t1", fresh, "IMG 2.dng", 8)
    Path(out["target"]["index_next"]).unlink()  # cancelled at once: the folder stays empty
    assert list(fresh.iterdir()) == []


def test_edit_names_the_saved_prompts_and_needs_an_existing_mask(tmp_path):
    first = select(tmp_path, "sky", "t1")
    edit = select(tmp_path, "sky", "t2", edit=True, write=False)
    assert edit["target"]["edit"] == first["target"]["prompts"]
    with pytest.raises(UsageError, match="no mask named 'moon'"):
        select(tmp_path, "moon", "t3", edit=True)


def test_remove_deletes_the_files_switches_the_instance_off_and_the_next_mask_takes_it(tmp_path):
    sky = select(tmp_path, "sky", "t1")
    subject = select(tmp_path, "subject", "t2")
    out = masks.remove_mask(tmp_path / "m", "IMG 1.dng", 7, "sky", tmp_path, "7_t3")
    off, = plugins(out["off"])
    assert (off.multi_name, off.enabled) == ("sky", False)
    assert not Path(sky["target"]["mask"]).exists() and not Path(sky["target"]["prompts"]).exists()
    assert Path(subject["target"]["mask"]).exists()
    assert [m["name"] for m in out["masks"]] == ["subject"]
    reuse = select(tmp_path, "moon", "t4")
    assert reuse["target"]["instance"] == 0 and "mask_off" not in reuse
    with pytest.raises(UsageError):
        masks.remove_mask(tmp_path / "m", "IMG 1.dng", 7, "sky", tmp_path, "7_t5")


def test_replacing_above_a_switched_off_instance_keeps_that_one_off(tmp_path):
    for i, name in enumerate(["a", "b", "c"]):
        select(tmp_path, name, f"t{i}")
    masks.remove_mask(tmp_path / "m", "IMG 1.dng", 7, "a", tmp_path, "7_r")
    again = select(tmp_path, "c", "t9")
    assert [tuple(x) for x in again["target"]["off_before"]] == [("a", 0)]
    assert [(p.operation, p.multi_name, p.enabled) for p in plugins(again["mask"])] == [
        ("rasterfile", "a", False), ("rasterfile", "c", True), ("exposure", "c", True)]


def test_names_slugs_and_the_index_file(tmp_path):
    assert masks.slug("Sky & clouds!") == "sky-clouds" and masks.slug("ü") == "mask"
    with pytest.raises(UsageError):
        masks.check_name("x" * 61)
    select(tmp_path, "sky", "t1")
    index = json.loads((tmp_path / "m" / "IMG 1_7.dtmask.json").read_text())
    assert [e["name"] for e in index["masks"]] == ["sky"]


def test_highest_instance_counts_the_users_own_raster_masks(tmp_path):
    history = tmp_path / "h.dtstyle"
    history.write_bytes(dtstyle.to_xml(dtstyle.Style("h", plugins=[
        dtstyle.Plugin(0, "rasterfile", 1, "00", True, multi_priority=2, multi_name="mine")])))
    out = masks.prepare_selection(history, tmp_path, "7_t1", tmp_path / "m", "IMG 1.dng", 7)
    assert out["target"]["instance"] == 3
