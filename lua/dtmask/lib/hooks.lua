--[[
  dtmask/lib/hooks.lua - the table scripts and tests get as package.loaded["dtmask/dtmask"].dtmask: the flows'
  entry points (added by dtmask/dtmask.lua), the stage hook, the last mask and who is told after each run.
  Part of dtmask (GPL-3.0-or-later); the hooks are listed in dtmask/dtmask.lua's header.
]]

local hooks = {}

hooks.last = { mask = "", score = nil }   -- the last mask made: {mask=, score=, name=}
hooks.listeners = {}                      -- functions called with hooks.last after each run (the panel)
hooks.on_stage = nil                      -- set by a script: called with each stage's name

--- a run got to `name` ("prepared", "preview", "guide", "picked", "attached"): tell on_stage when set
function hooks.stage(name)
  if hooks.on_stage then pcall(hooks.on_stage, name) end
end

--- a run ended: tell the listeners
function hooks.notify()
  for _, fn in ipairs(hooks.listeners) do pcall(fn, hooks.last) end
end

return hooks
