--[=[
  dtmask.lua - AI object masks for darktable's external raster mask module

  Copyright (C) 2025 the dtmask authors. GPL-3.0-or-later: darktable is free software, and so is this script.

  USAGE
    * install the helper (`pipx install dtmask`), then `dtmask lua install` (or require "dtmask/dtmask" in luarc)
    * darkroom: panel "AI object mask" > "select object", or assign a key to "dtmask: select object"
      (preferences > shortcuts > lua)
    * lighttable: select images, then "subject masks for selected images" (or its shortcut): each image's main
      subject is masked with no clicks, in a job with progress and a cancel button
    * the photo opens in the dtmask picker the way darktable shows it: click the object (right-click excludes,
      drag draws a box), then apply. The mask lands in <raster mask folder>/dtmask/ and, on darktable >= 5.2, an
      "external raster mask" instance named after the mask is added to the image. Blend any module through it:
      blending > raster mask > "external raster mask <name>".
    * several masks: the panel's name (empty: the next free "dtmask N"); a name the image has is replaced in
      place. The panel's list: choose a mask, then "edit mask" (the picker reopens on its saved clicks) or
      "remove mask" (files deleted, instance switched off)

  HOW
    The raster mask module reads its file in the frame right after raw preparation: uncropped, unrotated, no lens
    correction. So the script copies the image's history into a temporary style, has the helper (one run) keep
    its lean development modules with the geometric ones off, and exports duplicates with it in a Lua thread of
    its own: a 1024 px preview with the flip kept (the picker opens on it at once), then the full-resolution
    guide without the flip, which the picker needs only at Apply. The mask is attached with a generated style.
    Works with or without darktable-org/lua-scripts' lib/ installed. Details: docs/darktable.md.

  FILES
    This entry (dtmask/dtmask.lua, loaded by `require "dtmask/dtmask"`) and its modules in dtmask/lib/, which
    script_manager leaves alone as a library: util (translation, versions, quoting, paths, preferences), helper
    (finding and running the helper, its --lua answer, the job and cancel), export (styles, exports, waiting),
    attach (a selection's styles and files), settings (model, feathering), hooks (the table below), pick (one
    picked mask), subject (subject masks for many images), masks (list and remove), panel (UI, shortcuts).

  HOOKS (scripts and tests), in package.loaded["dtmask/dtmask"].dtmask
    * dtmask.select_object(image[, name[, edit]]): the whole flow on one image (name: the mask's; edit: start
      from its saved prompts), call it from dt.control.dispatch; dtmask.masks(image) lists the image's masks,
      dtmask.remove_mask(image, name) removes one; dtmask.subject_masks(images): subject masks, no clicks;
      dtmask.last: {mask=, score=, name=} of the last mask made
    * DTMASK_HELPER: the helper program; DTMASK_PICK_SCRIPT: a `dtmask pick --script` file, prompts in the
      picker's displayed pixels (the preview: the photo as darktable shows it, at most 1024 px on its long side);
      DTMASK_STYLE_EXPOSURE: also blend an exposure of this many EV through the mask
    * dtmask.on_stage(name): called at "prepared", "preview", "guide", "picked" and "attached" when set;
      dtmask.cancel(): what the job bar's cancel button does
]=]

local dt = require "darktable"
local util = require "dtmask/lib/util"

local _ = util.gettext
local MODULE = util.MODULE

local ok, du = pcall(require, "lib/dtutils")   -- darktable-org/lua-scripts' library, when installed
if ok then
  du.check_min_api_version(util.MIN_API, MODULE)
elseif util.compare_versions(dt.configuration.api_version_string, util.MIN_API) < 0 then
  dt.print(string.format("dtmask needs darktable 4.2 or newer (Lua API %s)", util.MIN_API))
  error("dtmask: Lua API " .. util.MIN_API .. " or newer required", 0)
end

local helper = require "dtmask/lib/helper"
local hooks = require "dtmask/lib/hooks"
local pick = require "dtmask/lib/pick"
local subject = require "dtmask/lib/subject"
local masks = require "dtmask/lib/masks"
local panel = require "dtmask/lib/panel"

hooks.select_object = pick.select_object
hooks.subject_masks = subject.masks
hooks.masks = masks.list
hooks.remove_mask = masks.remove
hooks.cancel = helper.cancel

dt.preferences.register(MODULE, "mask_folder", "string", _("dtmask: mask folder"),
  _("folder for masks; empty: dtmask/ below darktable's raster mask folder"), "")
dt.preferences.register(MODULE, "helper", "file", _("dtmask: helper program"),
  _("the dtmask program; empty: found on PATH or in ~/.local/bin"), "")

if dt.gui and dt.gui.current_view and os.getenv("DTMASK_NO_UI") ~= "1" then
  panel.build()
end
panel.register_shortcuts()

local script_data = {}
script_data.metadata = {
  name = "dtmask",
  purpose = _("AI object masks for the external raster mask module"),
  author = "the dtmask authors",
  help = "https://pypi.org/project/dtmask/",
}
script_data.destroy = panel.destroy
script_data.destroy_method = "hide"
script_data.restart = panel.restart
script_data.show = panel.show
script_data.dtmask = hooks

return script_data
