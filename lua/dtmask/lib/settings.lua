--[[
  dtmask/lib/settings.lua - the model and edge feathering a mask is made with: the panel's choices, kept as
  preferences. Part of dtmask (GPL-3.0-or-later).
]]

local util = require "dtmask/lib/util"

local settings = {}

--- the chosen model's id (nil: the helper's default)
function settings.model()
  local m = util.pref("model", "string")
  return (m and m ~= "") and m or nil
end

--- edge feathering in pixels; the panel's slider replaces this (sliders have no change callback)
function settings.feather() return tonumber(util.pref("feather", "integer")) or 0 end

--- append the model and edge feathering to a helper command line
function settings.add_to(args)
  local model = settings.model()
  if model then args[#args + 1] = "--model" args[#args + 1] = model end
  local feather = math.floor(settings.feather())
  if feather > 0 then args[#args + 1] = "--feather" args[#args + 1] = tostring(feather) end
  return args
end

return settings
