--[[
  dtmask/lib/helper.lua - finding and running the dtmask helper program, reading its answer, and the one job that
  may run at a time (the job bar's cancel stops its helper). Part of dtmask (GPL-3.0-or-later).

  The helper answers with --lua: one Lua table constructor (`return {...}`), loaded with an empty environment, so
  it can only build data; no JSON parser is needed.
]]

local dt = require "darktable"
local util = require "dtmask/lib/util"

local _ = util.gettext

local function optional(name)
  local ok, lib = pcall(require, name)
  return ok and lib or nil
end

local dtsys = optional "lib/dtutils.system"   -- darktable-org/lua-scripts' library, when installed

local helper = {}

local function candidates()
  local exe = util.is_windows() and "dtmask.exe" or "dtmask"
  local list = {}
  for dir in (os.getenv("PATH") or ""):gmatch(util.is_windows() and "[^;]+" or "[^:]+") do
    list[#list + 1] = util.join(dir, exe)
  end
  list[#list + 1] = util.join(util.join(util.join(util.home(), ".local"), "bin"), exe)   -- pipx
  return list
end

--- the helper: DTMASK_HELPER (tests), the preference, PATH, then pipx's ~/.local/bin
function helper.find()
  local forced = os.getenv("DTMASK_HELPER")
  if forced and forced ~= "" then return forced end
  local chosen = util.pref("helper", "file")
  if chosen and chosen ~= "" and chosen ~= _("(none)") then return chosen end
  for _, path in ipairs(candidates()) do
    if util.file_exists(path) then return path end
  end
  return nil
end

--- the shell command that runs argv with stdout/stderr to files and (POSIX) its pid in pidfile, for cancel
function helper.shell_command(argv, out, err, pidfile)
  local redirect = " > " .. util.quote(out) .. " 2> " .. util.quote(err)
  if util.is_windows() then return util.command_line(argv) .. redirect end
  return "echo $$ > " .. util.quote(pidfile) .. "; exec " .. util.command_line(argv) .. redirect
end

--- the exit code from dt.control.execute: POSIX system() returns a wait status
function helper.exit_code(status)
  status = tonumber(status) or 1
  if not util.is_windows() and status > 255 then return status // 256 end
  return status
end

local function execute(command)
  if util.is_windows() and dtsys then return dtsys.external_command(command) end
  if util.is_windows() then
    local bat = util.temp_path("dtmask_run.bat")
    util.write_file(bat, "@echo off\nchcp 65001>nul\n" .. command .. "\nexit /b %ERRORLEVEL%\n")
    local rc = dt.control.execute(bat)
    os.remove(bat)
    return rc
  end
  return dt.control.execute(command)   -- yields: darktable's UI and other scripts run meanwhile
end

--- the helper's --lua answer as a table; raises an error for anything else
function helper.load_answer(text)
  local chunk, err = load(text, "=dtmask", "t", {})
  local ok, value = false, err
  if chunk then ok, value = pcall(chunk) end
  if not ok or type(value) ~= "table" then
    error("the helper's answer is not a Lua table: " .. tostring(ok and type(value) or value), 0)
  end
  return value
end

-- the job ----------------------------------------------------------------------------------------------------

local current = nil   -- the running job: {pidfile=, cancelled=}

--- start the one job that may run (false when one runs already: it says so)
function helper.start_job(pidfile)
  if current then
    dt.print(_("dtmask: a selection is already running"))
    return false
  end
  current = { pidfile = pidfile or "", cancelled = false }
  return true
end

--- the pid file of the job's next helper run (a job over many images runs one per image)
function helper.set_pidfile(pidfile) current.pidfile = pidfile end

function helper.cancelled() return current ~= nil and current.cancelled end

--- end the job; returns whether it was cancelled
function helper.end_job()
  local cancelled = helper.cancelled()
  current = nil
  return cancelled
end

--- what the job bar's cancel button does: the running helper is stopped, nothing new starts
function helper.cancel()
  if not current then return end
  current.cancelled = true
  if not util.is_windows() then
    local pid = util.read_file(current.pidfile):match("%d+")
    if pid then os.execute("kill " .. pid) end
  end
end

--- run the helper with args and --lua; returns its answer on success, or nil, the exit code and its message
function helper.run(args, scratch)
  if helper.cancelled() then return nil, 3, _("cancelled") end   -- nothing new starts after a cancel
  local program = helper.find()
  if not program then
    return nil, 127, _("the dtmask helper was not found: install it (pipx install dtmask) or set its path in "
      .. "preferences > lua options")
  end
  local argv = { program }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  argv[#argv + 1] = "--lua"
  local out, err, pidfile = scratch .. "-out.lua", scratch .. "-err.txt", scratch .. "-pid"
  local rc = helper.exit_code(execute(helper.shell_command(argv, out, err, pidfile)))
  local stdout, stderr = util.read_file(out), util.read_file(err)
  os.remove(out) os.remove(err) os.remove(pidfile)
  if rc ~= 0 then
    local line = stderr:match("([^\n]*dtmask:[^\n]*)") or stderr:match("([^\n]+)%s*$") or ""
    return nil, rc, line ~= "" and line or string.format(_("the helper failed (exit code %d)"), rc)
  end
  local ok, answer = pcall(helper.load_answer, stdout)
  if not ok then return nil, 1, answer end
  return answer
end

--- run the helper; its answer, or an error with its message ("cancelled" after a cancel)
function helper.call(args, scratch)
  local answer, rc, msg = helper.run(args, scratch)
  if not answer then error((rc == 3 or helper.cancelled()) and _("cancelled") or msg, 0) end
  return answer
end

--- the helper arguments that name an image's masks: the mask folder, the photo's file name and its id
function helper.photo_args(args, image)
  for _, a in ipairs({ "--mask-dir", util.mask_folder(), "--photo", image.filename, "--image-id",
                       tostring(image.id) }) do
    args[#args + 1] = a
  end
  return args
end

return helper
