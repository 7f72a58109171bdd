--[[
  dtmask/lib/util.lua - what every part of the dtmask script needs: translation, API versions, shell quoting,
  paths and files, preferences and the mask folder. Part of dtmask (GPL-3.0-or-later); see dtmask/dtmask.lua.
]]

local dt = require "darktable"

local util = {}

util.MODULE = "dtmask"        -- the script's name in darktable: preferences, panel, events
util.MIN_API = "9.0.0"        -- darktable 4.2
util.ATTACH_API = "9.5.0"     -- darktable 5.2: the rasterfile module

--- the translation of msgid (the text itself when darktable has none)
function util.gettext(msgid)
  local ok, text = pcall(dt.gettext.gettext, msgid)
  return ok and text or msgid
end

local _ = util.gettext

--- true when an API field exists: darktable raises an error for a missing field rather than returning nil
function util.has(getter)
  local ok, value = pcall(getter)
  return ok and value ~= nil
end

-- versions ---------------------------------------------------------------------------------------------------

--- compare "a.b.c" version strings: -1, 0 or 1
function util.compare_versions(a, b)
  local function parts(v)
    local t = {}
    for n in tostring(v):gmatch("%d+") do t[#t + 1] = tonumber(n) end
    return t
  end
  local pa, pb = parts(a), parts(b)
  for i = 1, math.max(#pa, #pb) do
    local x, y = pa[i] or 0, pb[i] or 0
    if x ~= y then return x < y and -1 or 1 end
  end
  return 0
end

function util.api_at_least(version)
  return util.compare_versions(dt.configuration.api_version_string, version) >= 0
end

--- darktable >= 5.2 has the external raster mask module the mask is attached through
function util.can_attach()
  return util.api_at_least(util.ATTACH_API)
end

-- quoting ----------------------------------------------------------------------------------------------------

function util.is_windows()
  return dt.configuration.running_os == "windows"
end

--- one shell word: POSIX single quotes, or cmd.exe double quotes ('%' doubled for the batch file)
function util.quote(s)
  s = tostring(s)
  if util.is_windows() then
    if s:find('"', 1, true) then error(_("a path contains a double quote, which Windows cannot pass: ") .. s) end
    return '"' .. s:gsub("%%", "%%%%") .. '"'
  end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function util.command_line(argv)
  local words = {}
  for i, a in ipairs(argv) do words[i] = util.quote(a) end
  return table.concat(words, " ")
end

-- paths and files --------------------------------------------------------------------------------------------

function util.join(folder, name)
  local sep = util.is_windows() and "\\" or "/"
  if folder:sub(-1) == "/" or folder:sub(-1) == "\\" then return folder .. name end
  return folder .. sep .. name
end

--- a file in darktable's temporary folder
function util.temp_path(name)
  return util.join(dt.configuration.tmp_dir, name)
end

function util.file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

--- the file's text, "" when it cannot be read
function util.read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local text = f:read("a")
  f:close()
  return text
end

function util.write_file(path, text)
  local f = io.open(path, "wb")
  if f then f:write(text) f:close() end
end

function util.home()
  return os.getenv("HOME") or os.getenv("USERPROFILE") or dt.configuration.config_dir
end

--- "<image id>_<time>": makes a run's temporary files and style names unique
function util.tag(image)
  return string.format("%d_%s", image.id, os.date("%Y%m%d-%H%M%S"))
end

-- preferences ------------------------------------------------------------------------------------------------

--- one of the script's own preferences
function util.pref(name, kind) return dt.preferences.read(util.MODULE, name, kind) end

local function has_get_keys() return util.has(function() return dt.preferences.get_keys end) end

--- a darktable (not Lua) preference: read("darktable", key) on newer APIs, else from darktablerc
function util.darktable_pref(key)
  if has_get_keys() then return dt.preferences.read("darktable", key, "string") end
  local rc = util.read_file(util.join(dt.configuration.config_dir, "darktablerc"))
  for line in rc:gmatch("[^\n]+") do
    local k, v = line:match("^([^=]+)=(.*)$")
    if k == key then return v end
  end
  return ""
end

local told_folder = false

--- where masks go: the preference, else <raster mask root>/dtmask, else a default folder (and, once a session,
--- how to set the root: a script cannot, dt.preferences.write("darktable", ...) writes "lua/darktable/...")
function util.mask_folder()
  local chosen = util.pref("mask_folder", "string")
  if chosen and chosen ~= "" then return chosen end
  local root = util.darktable_pref("plugins/darkroom/segments/def_path")
  if root == nil or root == "" then
    root = util.join(util.join(util.home(), "Pictures"), "darktable masks")
    if not told_folder then
      told_folder = true
      dt.print(string.format(_("dtmask: no raster mask folder is set (preferences > processing); using %s"), root))
    end
  end
  return util.join(root, "dtmask")
end

--- an error's message without the "dtmask: " the helper's lines start with
function util.message(err)
  return (tostring(err):gsub("^dtmask: ", ""))
end

return util
