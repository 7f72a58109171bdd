"""The named masks of one photo: which file each name reads, its saved prompts, its rasterfile instance.

A photo can carry several dtmask masks ("sky", "subject", ...); each is one `rasterfile` instance whose
multi_name is the mask's name. darktable caches a mask file by name, so every new version of a mask is a new file:
`<photo stem>_<image id>_<name slug>_<time>.pfm`, its prompts beside it as `.json` (promptfile). A small index per
photo, `<photo stem>_<image id>.dtmask.json` in the mask folder, maps each name to its current files and instance.

The index only ever says what darktable has: before the picker runs, the index as it will be after the selection
is written beside it (`<index>.next`), and the bridge renames it into place once the mask is attached (then
deletes the replaced version's files), or deletes it with the new files when the selection is cancelled or
fails: the photo's masks stay as they were, and nothing is left behind.

Instances (multi_priority), as darktable 5.4.1's `dt.styles.apply` assigns them (docs/darktable.md): a new name
gets the highest rasterfile instance + 1, or takes a switched-off instance (a removed mask) when there is one; a
name selected again keeps its instance.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from . import dtstyle
from .errors import DtmaskError, UsageError
from .imageio import atomic_write

DEFAULT_NAME = "dtmask"
NAME_BYTES = 60  # darktable keeps 128 bytes of a multi_name; short names fit the module header
INDEX_VERSION = 1


def slug(name: str) -> str:
    """The name as a file-name part: lower-case letters, digits and '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "mask"


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name.encode("utf-8")) > NAME_BYTES or any(ord(c) < 32 for c in name):
        raise UsageError(f"a mask name must be 1-{NAME_BYTES} bytes of text: {name!r}")
    return name


def photo_stem(filename: str) -> str:
    """The photo's name without extension, safe in a file name on every system (as the bridge did)."""
    stem = re.sub(r'[\x00-\x1f/\\:*?"<>|]', "_", Path(filename).stem if "." in filename else filename)
    return stem[:100]


@dataclass
class Entry:
    name: str
    instance: int
    mask: str = ""  # file names in the mask folder
    prompts: str = ""
    off: bool = False  # removed: its instance is switched off, free for the next new mask


@dataclass
class Target:
    """One selection: the mask's name, the files to write, the instance, and what the bridge must do."""

    name: str
    instance: int
    mask: str  # absolute paths
    prompts: str
    replace: bool  # the name has an instance already: switch it off, then on with the new file (in place)
    off_before: list[tuple[str, int]]  # switched-off instances below this one (darktable fills those first)
    edit: str | None  # the current prompts file, when editing
    replaces: list[str]  # files to delete once darktable reads the new mask
    index: str  # the photo's index, and the index after this selection: renamed into place once attached
    index_next: str


class MaskSet:
    def __init__(self, folder: Path, photo: str, image_id: int):
        self.folder = Path(folder)
        self.stem = photo_stem(photo)
        self.image_id = image_id
        self.path = self.folder / f"{self.stem}_{image_id}.dtmask.json"

    def entries(self) -> list[Entry]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [Entry(**e) for e in data["masks"]]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise DtmaskError(f"cannot read the mask index {self.path}: {exc}") from None

    def _write(self, entries: list[Entry], path: Path | None = None) -> None:
        with atomic_write(path or self.path) as f:
            f.write(json.dumps({"version": INDEX_VERSION, "masks": [asdict(e) for e in entries]},
                               indent=1).encode("utf-8"))

    def _files(self, entry: Entry) -> list[str]:
        """The entry's mask and prompts files that exist."""
        return [f for f in (entry.mask, entry.prompts) if f and (self.folder / f).is_file()]

    def current(self) -> list[dict]:
        """The masks the photo has, in instance order: name, mask and prompts (absolute paths), instance."""
        found = []
        for e in sorted(self.entries(), key=lambda e: e.instance):
            pair = [e.mask, e.prompts]
            if not e.off and self._files(e) == pair:
                found.append({"name": e.name, "mask": str(self.folder / pair[0]),
                              "prompts": str(self.folder / pair[1]), "instance": e.instance})
        return found

    def next_name(self) -> str:
        taken = {m["name"] for m in self.current()}
        n = 1
        while f"{DEFAULT_NAME} {n}" in taken:
            n += 1
        return f"{DEFAULT_NAME} {n}"

    def _new_files(self, name: str, stamp: str) -> tuple[str, str]:
        base = f"{self.stem}_{self.image_id}_{slug(name)}_{stamp}"
        n, candidate = 1, base
        while (self.folder / f"{candidate}.pfm").exists() or (self.folder / f"{candidate}.json").exists():
            n += 1
            candidate = f"{base}-{n}"
        return f"{candidate}.pfm", f"{candidate}.json"

    def plan(self, name: str | None, stamp: str, edit: bool = False, highest_other: int = -1) -> Target:
        """Name the files of a new version of mask `name` (None: the next free default) and write the index's
        pending entry. `highest_other`: the highest rasterfile instance in the history that is not dtmask's."""
        name = check_name(name) if name else self.next_name()
        entries = self.entries()
        live = {m["name"]: m for m in self.current()}
        if edit and name not in live:
            raise UsageError(f"this photo has no mask named {name!r} to edit")
        mask, prompts = self._new_files(name, stamp)
        mine = next((e for e in entries if e.name == name and not e.off), None)
        free = sorted((e for e in entries if e.off), key=lambda e: e.instance)
        if mine is not None:
            entries.remove(mine)
            instance, replaces = mine.instance, self._files(mine)
        elif free:
            entries.remove(free[0])
            instance, replaces = free[0].instance, []
            free = free[1:]
        else:
            instance, replaces = max([e.instance for e in entries] + [highest_other]) + 1, []
        entries.append(Entry(name, instance, mask, prompts))
        index_next = self.path.with_name(f"{self.path.name}.next")
        self._write(entries, index_next)
        return Target(name=name, instance=instance, mask=str(self.folder / mask), prompts=str(self.folder / prompts),
                      replace=mine is not None, off_before=[(e.name, e.instance) for e in free if e.instance < instance],
                      edit=live[name]["prompts"] if edit else None,
                      replaces=[str(self.folder / f) for f in replaces], index=str(self.path),
                      index_next=str(index_next))

    def remove(self, name: str) -> Entry:
        """Forget mask `name` and delete its files; its instance stays, switched off, for the next new mask."""
        entries = self.entries()
        mine = next((e for e in entries if e.name == name and not e.off), None)
        if mine is None:
            raise UsageError(f"this photo has no mask named {name!r}")
        for f in self._files(mine):
            (self.folder / f).unlink()
        mine.off, mine.mask, mine.prompts = True, "", ""
        self._write(entries)
        return mine


def prepare_selection(history: Path | None, out_dir: Path, tag: str, folder: Path, photo: str, image_id: int,
                      name: str | None = None, edit: bool = False, exposure_ev: float | None = None) -> dict:
    """`dtmask lua prepare`: plan the mask's files in the photo's index and write every style the selection
    needs (dtstyle.prepare); the answer also holds the target (name, files, the prompts to edit, files replaced)."""
    dtstyle.check_tag(tag)
    folder.mkdir(parents=True, exist_ok=True)
    maskset = MaskSet(folder, photo, image_id)
    mine = [e.name for e in maskset.entries()]
    target = maskset.plan(name, tag.split("_", 1)[-1], edit, dtstyle.highest_instance(history, mine))
    result = dtstyle.prepare(history, out_dir, tag, target, exposure_ev)
    result["target"] = asdict(target)
    return result


def remove_mask(folder: Path, photo: str, image_id: int, name: str, out_dir: Path, tag: str) -> dict:
    """`dtmask lua masks --remove`: delete the mask's files and write the style that switches its instance off."""
    dtstyle.check_tag(tag)
    maskset = MaskSet(folder, photo, image_id)
    maskset.remove(name)
    return {"off": dtstyle.off_style(name, folder, out_dir, tag), "masks": maskset.current(),
            "next": maskset.next_name()}
