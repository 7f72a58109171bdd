--[[
  dtmask/lib/subject.lua - subject masks for many images, no clicks: for each, the guide export, the helper's
  `segment --subject` on it, then the mask attached; one job with progress and a cancel button.
  Part of dtmask (GPL-3.0-or-later).
]]

local dt = require "darktable"
local util = require "dtmask/lib/util"
local helper = require "dtmask/lib/helper"
local export = require "dtmask/lib/export"
local attach = require "dtmask/lib/attach"
local settings = require "dtmask/lib/settings"
local hooks = require "dtmask/lib/hooks"

local _ = util.gettext

local subject = {}

--- the helper's command line for one subject mask: model and edge feathering from the panel
function subject.args(raster_tif, target)
  return settings.add_to(attach.prompts_args({ "segment", raster_tif, "--subject", "-o", target.mask },
    target))
end

--- one image's subject mask, as select_object makes a picked one: the guide export, the helper's
--- `segment --subject` on it, attach; returns the mask file. Call inside subject.for_each_image (the job).
function subject.mask(image, tag)
  local scratch = util.temp_path("dtmask-" .. tag)
  helper.set_pidfile(scratch .. "-pid")
  local temp, target = {}, nil
  local ok, result = pcall(function()
    local styles = attach.prepare(image, scratch, tag, temp, {})
    target = styles.target
    local guide = scratch .. "-guide.tif"
    temp[#temp + 1] = guide
    export.into_place(image, styles.guide, guide, 0, temp)
    if helper.cancelled() then error(_("cancelled"), 0) end
    attach.made(image, styles, helper.call(subject.args(guide, target), scratch))
    return target.mask
  end)
  for _, f in ipairs(temp) do os.remove(f) end
  if not ok then
    attach.discard(target)
    error(result, 0)
  end
  return result
end

--- run fn(image, tag) on each image in one darktable job with progress and a cancel button; a failing image is
--- reported and skipped. Returns the number done, the failures ({image=, message=}) and whether it was cancelled.
function subject.for_each_image(images, title, fn)
  if not helper.start_job() then return nil end
  local job = dt.gui.create_job(title, true, helper.cancel)
  local stamp = os.date("%Y%m%d-%H%M%S")
  local done, failed = 0, {}
  for i, image in ipairs(images) do
    if helper.cancelled() then break end
    job.percent = (i - 1) / #images
    local ok, err = pcall(fn, image, string.format("%d_%s", image.id, stamp))
    if ok then
      done = done + 1
    elseif helper.cancelled() then
      break
    else
      failed[#failed + 1] = { image = image, message = util.message(err) }
      dt.print_error(string.format("dtmask: %s: %s", image.filename, util.message(err)))
    end
  end
  job.percent = 1
  job.valid = false
  return done, failed, helper.end_job()
end

--- the one-line summary of a run over many images
function subject.summary(title, total, done, failed, cancelled)
  local text = string.format(_("%s: %d of %d images done"), title, done, total)
  if cancelled then text = text .. _(", cancelled") end
  if #failed > 0 then
    local names = {}
    for i, f in ipairs(failed) do
      if i > 3 then names[#names + 1] = "..." break end
      names[#names + 1] = string.format("%s (%s)", f.image.filename, f.message)
    end
    text = text .. string.format(_(", %d failed: %s"), #failed, table.concat(names, ", "))
  end
  return text
end

--- subject masks for the images, attached on darktable >= 5.2; true when every image got one
function subject.masks(images)
  local title = _("dtmask: subject masks")
  local done, failed, cancelled = subject.for_each_image(images, title, subject.mask)
  if done == nil then return false end
  local text = subject.summary(title, #images, done, failed, cancelled)
  if done > 0 then
    text = text .. (util.can_attach() and _("; attached as \"external raster mask dtmask N\"")
      or string.format(_("; saved in %s"), util.mask_folder()))
  end
  dt.print(text)
  hooks.notify()
  return #failed == 0 and not cancelled
end

return subject
