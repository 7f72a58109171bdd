--[[
  dtmask/lib/pick.lua - one mask picked by clicking: the styles, the exports in a thread of their own, the picker
  meanwhile, then the mask attached. Part of dtmask (GPL-3.0-or-later); the flow is in docs/darktable.md.
]]

local dt = require "darktable"
local util = require "dtmask/lib/util"
local helper = require "dtmask/lib/helper"
local export = require "dtmask/lib/export"
local attach = require "dtmask/lib/attach"
local settings = require "dtmask/lib/settings"
local hooks = require "dtmask/lib/hooks"

local _ = util.gettext

local PREVIEW_SIZE = 1024     -- longest side of the picker's preview export: what the encoder takes
local WAIT_SECONDS = 900      -- how long the picker waits for an export darktable is still writing

local pick = {}

--- the picker's command line: it opens on the preview while darktable still exports the guide; the target's
--- mask and prompts files (from prepare); model and edge feathering from the panel
function pick.args(preview, guide, target)
  local args = settings.add_to(attach.prompts_args({ "pick", preview, "--guide", guide, "--wait",
    tostring(WAIT_SECONDS), "-o", target.mask }, target))
  local script = os.getenv("DTMASK_PICK_SCRIPT")   -- tests: scripted prompts in the picker's displayed pixels
  if script and script ~= "" then args[#args + 1] = "--script" args[#args + 1] = script end
  return args
end

--- the two exports a pick needs, in order: the preview first (the picker opens on it), then the full-resolution
--- guide; each file and its .error go to run.temp
local function plan_exports(run, styles, scratch)
  run.exports = {
    { kind = "preview", style = styles.preview, path = scratch .. "-preview.tif", size = PREVIEW_SIZE },
    { kind = "guide", style = styles.guide, path = scratch .. "-guide.tif", size = 0 },
  }
  for _, e in ipairs(run.exports) do
    for _, f in ipairs({ e.path, e.path .. ".error" }) do run.temp[#run.temp + 1] = f end
  end
  run.done = hooks.stage
end

--- pick on run.image: the styles, the exports in a thread of their own, the picker meanwhile, then attach
local function run_pick(run, tag, scratch, opts)
  local image = run.image
  local styles = attach.prepare(image, scratch, tag, run.temp, opts)
  local target = styles.target
  run.target = target
  hooks.stage("prepared")
  plan_exports(run, styles, scratch)
  export.start(run)
  local ok, result = pcall(helper.call, pick.args(run.exports[1].path, run.exports[2].path, target), scratch)
  export.wait(run)
  if not ok then error(result, 0) end
  hooks.stage("picked")
  attach.made(image, styles, result)
  if util.can_attach() then hooks.stage("attached") end
  attach.tell_where(target.mask, target.name)
end

--- the whole flow for one image; runs until the picker is closed (call it from dt.control.dispatch).
--- `name`: the mask's name (nil: the next free "dtmask N"); a name the image has is replaced in place.
--- `edit`: reopen the picker on that mask's saved prompts. Returns true when the mask was made.
function pick.select_object(image, name, edit)
  local tag = util.tag(image)
  local scratch = util.temp_path("dtmask-" .. tag)
  if not helper.start_job(scratch .. "-pid") then return false end
  local job = dt.gui.create_job(_("dtmask: select object"), true, helper.cancel)
  job.percent = 0.1
  local run = { image = image, exports = {}, temp = {} }
  local ok, err = pcall(run_pick, run, tag, scratch, { name = name, edit = edit })
  export.wait(run)   -- nothing is removed while darktable still writes it
  for _, f in ipairs(run.temp) do os.remove(f) end
  if not ok then attach.discard(run.target) end   -- a cancelled or failed run leaves no stray mask
  job.valid = false
  helper.end_job()
  if not ok then
    local message = util.message(err)
    dt.print("dtmask: " .. message)
    if message ~= _("cancelled") then dt.print_error("dtmask: " .. message) end   -- a cancel is no error
  end
  hooks.notify()
  return ok
end

return pick
