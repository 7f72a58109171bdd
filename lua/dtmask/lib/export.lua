--[[
  dtmask/lib/export.lua - darktable's side of the images the helper reads: the history as a style, exports of a
  duplicate with a style (in a Lua thread of their own, waited for), and the size the raster mask module expects.
  Part of dtmask (GPL-3.0-or-later).
]]

local dt = require "darktable"
local util = require "dtmask/lib/util"

local _ = util.gettext

local export = {}

local function find_style(name)
  for i = 1, #dt.styles do
    local s = dt.styles[i]
    if s.name == name then return s end
  end
  return nil
end

--- import a style file written by the helper ({path=, name=}) and return the style; delete it after use
function export.import_style(style_file)
  dt.styles.import(style_file.path)
  local style = find_style(style_file.name)
  if not style then error(string.format(_("darktable did not import the style %s"), style_file.path), 0) end
  return style
end

--- apply a style file to the image, then delete the imported style
function export.apply_style_file(image, style_file)
  local style = export.import_style(style_file)
  local ok, err = pcall(dt.styles.apply, style, image)
  style:delete()
  if not ok then error(err, 0) end
end

--- the image's history as a temporary .dtstyle file, added to `temp` (nil for an image with no history)
function export.history_file(image, tag, temp)
  local name = "dtmask_history_" .. tag
  local style = dt.styles.create(image, name, "dtmask: temporary")
  -- darktable answers a failed create with its own last argument, the description: no style
  if type(style) ~= "userdata" then return nil end
  local path = nil
  if #style > 0 then
    style:export(dt.configuration.tmp_dir, true)
    path = util.temp_path(name .. ".dtstyle")
    temp[#temp + 1] = path
  end
  style:delete()
  return path
end

--- a 16-bit TIFF of a duplicate with the style applied; the duplicate and its sidecar go, the image is untouched.
--- The sidecar's path also goes to `temp`: a sidecar job darktable queued for the duplicate can write it again
--- after it was removed (seen once in CI, on a loaded machine), and the run's end removes it once more.
local function export_with_style(image, style, path, max_size, temp)
  local dup = dt.database.duplicate(image)
  local sidecar = nil
  pcall(function() sidecar = dup.sidecar end)
  local ok, err = pcall(function()
    dt.styles.apply(style, dup)
    local fmt = dt.new_format("tiff")
    fmt.bpp = 16
    fmt.max_width = max_size
    fmt.max_height = max_size
    fmt:write_image(dup, path)
  end)
  dup:delete()
  if sidecar and sidecar ~= image.sidecar then
    os.remove(sidecar)
    temp[#temp + 1] = sidecar
  end
  if not ok then error(err, 0) end
  if not util.file_exists(path) then error(string.format(_("darktable could not export %s"), path), 0) end
end

--- export with a style file into `path`, renamed into place once complete (the picker may be waiting for it);
--- the files the run's end removes again go to `temp`
function export.into_place(image, style_file, path, max_size, temp)
  local style = export.import_style(style_file)
  local part = path:gsub("%.tif$", "") .. "-part.tif"
  local ok, err = pcall(export_with_style, image, style, part, max_size, temp)
  style:delete()
  if not ok then
    os.remove(part)
    error(err, 0)
  end
  if not os.rename(part, path) then error(string.format(_("cannot rename %s"), part), 0) end
end

--- run.exports ({kind=, style=, path=, size=}, ...) in a Lua thread of their own while the caller runs the helper
--- (dt.control.execute yields darktable's Lua lock), in order. A failed export leaves its message in
--- <file>.error, where the waiting picker reads it; `run.done(kind)` is called after each; export.wait stops it.
function export.start(run)
  run.exporting = true
  dt.control.dispatch(function()
    for _, e in ipairs(run.exports) do
      if run.stop then break end
      local ok, err = pcall(export.into_place, run.image, e.style, e.path, e.size, run.temp)
      if not ok then
        util.write_file(e.path .. ".error", util.message(err))
        break
      end
      run.done(e.kind)
    end
    run.exporting = false
  end)
end

--- skip the exports that have not started and wait for the running one: nothing is removed while darktable writes it
function export.wait(run)
  run.stop = true
  while run.exporting do dt.control.sleep(50) end
end

--- the image size the raster mask module expects (after rawprepare's crop), when darktable tells it
function export.raster_size(image)
  local ok, w, h = pcall(function() return image.p_width, image.p_height end)
  if ok and w and w > 0 then return w, h end
  if not image.is_raw then return image.width, image.height end
  return nil
end

--- refuse a mask whose size is not the raster mask's input (cameras whose pixels darktable rotates or scales)
function export.check_raster_size(image, width, height)
  local w, h = export.raster_size(image)
  if w and (width ~= w or height ~= h) then
    error(string.format(_("the export is %dx%d but the raster mask needs %dx%d (this camera's pixels are rotated "
      .. "or scaled); no mask written"), width, height, w, h), 0)
  end
end

return export
