--[[
  dtmask/lib/attach.lua - a selection's styles and files: planned by one helper run (prepare), then attached to
  the image, or discarded when the selection does not end. Part of dtmask (GPL-3.0-or-later).
]]

local dt = require "darktable"
local util = require "dtmask/lib/util"
local helper = require "dtmask/lib/helper"
local export = require "dtmask/lib/export"
local hooks = require "dtmask/lib/hooks"

local _ = util.gettext

local attach = {}

--- one helper run writes every style a selection needs: the preview and guide export styles (the history kept to
--- its lean modules, geometry off) and the styles that attach the mask (`mask_off` first when the name exists);
--- returns their {path=, name=} by kind, and `target`: the mask's name, files, prompts to edit, files it replaces.
--- Every style file is added to `temp`. `opts.name`: the mask's name (nil: the next free default); `opts.edit`:
--- start from its saved prompts
function attach.prepare(image, scratch, tag, temp, opts)
  local args = helper.photo_args({ "lua", "prepare", "--out-dir", dt.configuration.tmp_dir, "--tag", tag }, image)
  local history = export.history_file(image, tag, temp)
  if history then table.insert(args, 3, history) end
  if opts.name and opts.name ~= "" then args[#args + 1] = "--name" args[#args + 1] = opts.name end
  if opts.edit then args[#args + 1] = "--edit" end
  local ev = os.getenv("DTMASK_STYLE_EXPOSURE")   -- tests: also blend an exposure through the mask
  if ev and ev ~= "" then args[#args + 1] = "--exposure" args[#args + 1] = ev end
  local styles = helper.call(args, scratch)
  for _, kind in ipairs({ "preview", "guide", "mask", "mask_off" }) do
    if styles[kind] then temp[#temp + 1] = styles[kind].path end
  end
  return styles
end

--- attach the target's mask (darktable >= 5.2): a name selected again is switched off with its new file, then
--- on, so that the same instance reads it (darktable adds a new instance otherwise). Then the photo's mask index
--- becomes the one the helper wrote for after this selection (Windows' rename replaces no file), and the replaced
--- version's files go.
function attach.attach(image, styles)
  local target = styles.target
  if util.can_attach() then
    if styles.mask_off then export.apply_style_file(image, styles.mask_off) end
    export.apply_style_file(image, styles.mask)
  end
  if util.is_windows() then os.remove(target.index) end
  if not os.rename(target.index_next, target.index) then
    error(string.format(_("cannot rename %s"), target.index_next), 0)
  end
  for _, f in ipairs(target.replaces) do os.remove(f) end
end

--- the helper made the mask (`answer`: its report): check it fits the image's raster, attach it, and make it
--- the last mask (only once attached: a failed attach leaves no last mask that was discarded)
function attach.made(image, styles, answer)
  export.check_raster_size(image, answer.width, answer.height)
  attach.attach(image, styles)
  local target = styles.target
  hooks.last = { mask = target.mask, score = answer.score, name = target.name }
end

--- the target's prompts options for the helper: save them next to the mask, start from the saved ones to edit
function attach.prompts_args(args, target)
  args[#args + 1] = "--save-prompts" args[#args + 1] = target.prompts
  if target.edit then args[#args + 1] = "--prompts" args[#args + 1] = target.edit end
  return args
end

--- a selection that did not end: its new files go, the photo's masks stay as they were
function attach.discard(target)
  if target then
    for _, f in ipairs({ target.mask, target.prompts, target.index_next }) do os.remove(f) end
  end
end

--- tell the user where the mask is and how to use it
function attach.tell_where(mask, name)
  if util.can_attach() then
    dt.print(string.format(_("dtmask: mask attached as \"external raster mask %s\"; in any module choose "
      .. "blending > raster mask > it. File: %s"), name, mask))
  else
    dt.print(string.format(_("dtmask: mask saved as %s. This darktable (Lua API %s) has no external raster "
      .. "mask module: darktable 5.2 or newer can use it."), mask, dt.configuration.api_version_string))
  end
end

return attach
