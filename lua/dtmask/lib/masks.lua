--[[
  dtmask/lib/masks.lua - the masks an image has, from the helper's index per photo: listed, and removed (files
  deleted, instance switched off). Part of dtmask (GPL-3.0-or-later).
]]

local dt = require "darktable"
local util = require "dtmask/lib/util"
local helper = require "dtmask/lib/helper"
local export = require "dtmask/lib/export"
local hooks = require "dtmask/lib/hooks"

local masks = {}

--- the image's masks from the helper's index: {masks = {{name=, mask=, prompts=, instance=}, ...}, next = name}
function masks.list(image)
  return helper.call(helper.photo_args({ "lua", "masks" }, image), util.temp_path("dtmask-masks-" .. image.id))
end

--- remove the mask `name` from `image`: its files are deleted and (darktable >= 5.2) its instance switched off;
--- the image's other masks are untouched. Returns true on success.
function masks.remove(image, name)
  local tag = util.tag(image)
  local ok, err = pcall(function()
    local out = helper.call(helper.photo_args({ "lua", "masks", "--remove", name, "--out-dir",
      dt.configuration.tmp_dir, "--tag", tag }, image), util.temp_path("dtmask-" .. tag))
    local applied, aerr = true, nil
    if util.can_attach() then applied, aerr = pcall(export.apply_style_file, image, out.off) end
    os.remove(out.off.path)
    if not applied then error(aerr, 0) end
  end)
  if not ok then dt.print("dtmask: " .. util.message(err)) end
  hooks.notify()
  return ok
end

return masks
