--[[
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

  HOOKS (scripts and tests)
    * package.loaded["dtmask/dtmask"].dtmask.select_object(image, name, edit): the whole flow on one image
      (name: the mask's, optional; edit: start from its saved prompts); dtmask.masks(image) lists the image's
      masks, dtmask.remove_mask(image, name) removes one
    * DTMASK_HELPER: the helper program; DTMASK_PICK_SCRIPT: a `dtmask pick --script` file, prompts in the
      picker's displayed pixels (the preview: the photo as darktable shows it, at most 1024 px on its long side);
      DTMASK_STYLE_EXPOSURE: also blend an exposure of this many EV through the mask
    * dtmask.on_stage(name): called at "prepared", "preview", "guide", "picked" and "attached" when set;
      dtmask.cancel(): what the job bar's cancel button does
]]

local dt = require "darktable"

local function optional(name)
  local ok, lib = pcall(require, name)
  return ok and lib or nil
end

local du = optional "lib/dtutils"
local dtsys = optional "lib/dtutils.system"

local MODULE = "dtmask"
local MIN_API = "9.0.0"       -- darktable 4.2
local ATTACH_API = "9.5.0"    -- darktable 5.2: the rasterfile module
local PREVIEW_SIZE = 1024     -- longest side of the picker's preview export: what the encoder takes
local WAIT_SECONDS = 900      -- how long the picker waits for an export darktable is still writing

local M = {}                  -- the script's functions, exposed for tests and other scripts

local function _(msgid)
  local ok, text = pcall(dt.gettext.gettext, msgid)
  return ok and text or msgid
end

--- true when an API field exists: darktable raises an error for a missing field rather than returning nil
function M.has(getter)
  local ok, value = pcall(getter)
  return ok and value ~= nil
end

-- versions ---------------------------------------------------------------------------------------------------

--- compare "a.b.c" version strings: -1, 0 or 1
function M.compare_versions(a, b)
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

function M.api_at_least(version)
  return M.compare_versions(dt.configuration.api_version_string, version) >= 0
end

function M.can_attach()
  return M.api_at_least(ATTACH_API)
end

-- quoting and commands ---------------------------------------------------------------------------------------

function M.is_windows()
  return dt.configuration.running_os == "windows"
end

--- one shell word: POSIX single quotes, or cmd.exe double quotes ('%' doubled for the batch file)
function M.quote(s)
  s = tostring(s)
  if M.is_windows() then
    if s:find('"', 1, true) then error(_("a path contains a double quote, which Windows cannot pass: ") .. s) end
    return '"' .. s:gsub("%%", "%%%%") .. '"'
  end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function M.command_line(argv)
  local words = {}
  for i, a in ipairs(argv) do words[i] = M.quote(a) end
  return table.concat(words, " ")
end

--- the shell command that runs argv with stdout/stderr to files and (POSIX) its pid in pidfile, for cancel
function M.shell_command(argv, out, err, pidfile)
  local redirect = " > " .. M.quote(out) .. " 2> " .. M.quote(err)
  if M.is_windows() then return M.command_line(argv) .. redirect end
  return "echo $$ > " .. M.quote(pidfile) .. "; exec " .. M.command_line(argv) .. redirect
end

--- the exit code from dt.control.execute: POSIX system() returns a wait status
function M.exit_code(status)
  status = tonumber(status) or 1
  if not M.is_windows() and status > 255 then return status // 256 end
  return status
end

-- file names -------------------------------------------------------------------------------------------------

function M.stem(filename)
  return (filename:gsub("%.[^.]*$", ""))
end

function M.join(folder, name)
  local sep = M.is_windows() and "\\" or "/"
  if folder:sub(-1) == "/" or folder:sub(-1) == "\\" then return folder .. name end
  return folder .. sep .. name
end

function M.file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local text = f:read("a")
  f:close()
  return text
end

-- JSON (the helper prints one object) ------------------------------------------------------------------------

function M.json_decode(text)
  local pos = 1
  local value
  local function ws() pos = text:find("[^ \t\r\n]", pos) or #text + 1 end
  local function fail(what) error("bad JSON from the helper: " .. what .. " at " .. pos, 0) end
  local escapes = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
  local function str()
    local out, i = {}, pos + 1
    while true do
      local c = text:sub(i, i)
      if c == "" then fail("unterminated string") end
      if c == '"' then pos = i + 1 return table.concat(out) end
      if c == "\\" then
        local e = text:sub(i + 1, i + 1)
        if e == "u" then
          local code = tonumber(text:sub(i + 2, i + 5), 16) or fail("bad \\u escape")
          if code >= 0xD800 and code <= 0xDBFF and text:sub(i + 6, i + 7) == "\\u" then
            local low = tonumber(text:sub(i + 8, i + 11), 16) or fail("bad surrogate")
            code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)
            i = i + 6
          end
          out[#out + 1] = utf8.char(code)
          i = i + 6
        else
          out[#out + 1] = escapes[e] or fail("bad escape")
          i = i + 2
        end
      else
        out[#out + 1] = c
        i = i + 1
      end
    end
  end
  function value()
    ws()
    local c = text:sub(pos, pos)
    if c == "{" then
      local obj = {}
      pos = pos + 1 ws()
      if text:sub(pos, pos) == "}" then pos = pos + 1 return obj end
      while true do
        ws()
        if text:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str() ws()
        if text:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value() ws()
        local d = text:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return obj end
        if d ~= "," then fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local arr = {}
      pos = pos + 1 ws()
      if text:sub(pos, pos) == "]" then pos = pos + 1 return arr end
      while true do
        arr[#arr + 1] = value() ws()
        local d = text:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then fail("expected ',' or ']'") end
      end
    elseif c == '"' then return str()
    elseif text:sub(pos, pos + 3) == "true" then pos = pos + 4 return true
    elseif text:sub(pos, pos + 4) == "false" then pos = pos + 5 return false
    elseif text:sub(pos, pos + 3) == "null" then pos = pos + 4 return nil
    end
    local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or num == "" then fail("unexpected character") end
    pos = pos + #num
    return tonumber(num)
  end
  local result = value()
  ws()
  if pos <= #text then fail("trailing text") end
  return result
end

-- preferences ------------------------------------------------------------------------------------------------

local function pref(name, kind) return dt.preferences.read(MODULE, name, kind) end

--- a darktable (not Lua) preference: read("darktable", key) on newer APIs, else from darktablerc
function M.darktable_pref(key)
  if M.has(function() return dt.preferences.get_keys end) then
    return dt.preferences.read("darktable", key, "string")
  end
  local rc = read_file(M.join(dt.configuration.config_dir, "darktablerc"))
  for line in rc:gmatch("[^\n]+") do
    local k, v = line:match("^([^=]+)=(.*)$")
    if k == key then return v end
  end
  return ""
end

local function home()
  return os.getenv("HOME") or os.getenv("USERPROFILE") or dt.configuration.config_dir
end

--- where masks go: the preference, else <raster mask root>/dtmask; the root gets a default when empty
function M.mask_folder()
  local chosen = pref("mask_folder", "string")
  if chosen and chosen ~= "" then return chosen end
  local root = M.darktable_pref("plugins/darkroom/segments/def_path")
  if root == nil or root == "" then
    root = M.join(M.join(home(), "Pictures"), "darktable masks")
    -- only APIs with get_keys write darktable's own keys; older ones would write "lua/darktable/..."
    if M.has(function() return dt.preferences.get_keys end)
        and pcall(dt.preferences.write, "darktable", "plugins/darkroom/segments/def_path", "string", root) then
      dt.print(string.format(_("dtmask: the raster mask folder was not set; using %s"), root))
    end
  end
  return M.join(root, "dtmask")
end

local function candidates()
  local exe = M.is_windows() and "dtmask.exe" or "dtmask"
  local list = {}
  local path = os.getenv("PATH") or ""
  for dir in path:gmatch(M.is_windows() and "[^;]+" or "[^:]+") do list[#list + 1] = M.join(dir, exe) end
  list[#list + 1] = M.join(M.join(M.join(home(), ".local"), "bin"), exe)   -- pipx
  if M.is_windows() then list[#list + 1] = M.join(M.join(M.join(home(), ".local"), "bin"), "dtmask.exe") end
  return list
end

--- the helper: DTMASK_HELPER (tests), the preference, PATH, then pipx's ~/.local/bin
function M.find_helper()
  local forced = os.getenv("DTMASK_HELPER")
  if forced and forced ~= "" then return forced end
  local chosen = pref("helper", "file")
  if chosen and chosen ~= "" and chosen ~= _("(none)") then return chosen end
  for _, path in ipairs(candidates()) do
    if M.file_exists(path) then return path end
  end
  return nil
end

-- running the helper -----------------------------------------------------------------------------------------

local current = nil   -- the running helper: {pidfile=, cancelled=}

local function execute(command)
  if M.is_windows() and dtsys then return dtsys.external_command(command) end
  if M.is_windows() then
    local bat = M.join(dt.configuration.tmp_dir, "dtmask_run.bat")
    local f = io.open(bat, "w")
    f:write("@echo off\nchcp 65001>nul\n" .. command .. "\nexit /b %ERRORLEVEL%\n")
    f:close()
    local rc = dt.control.execute(bat)
    os.remove(bat)
    return rc
  end
  return dt.control.execute(command)   -- yields: darktable's UI and other scripts run meanwhile
end

--- run the helper; returns the decoded JSON on success, or nil, the exit code and the helper's message
function M.run_helper(args, scratch)
  if current and current.cancelled then return nil, 3, _("cancelled") end   -- nothing new starts after a cancel
  local helper = M.find_helper()
  if not helper then
    return nil, 127, _("the dtmask helper was not found: install it (pipx install dtmask) or set its path in "
      .. "preferences > lua options")
  end
  local argv = { helper }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local out, err, pidfile = scratch .. "-out.json", scratch .. "-err.txt", scratch .. "-pid"
  local rc = M.exit_code(execute(M.shell_command(argv, out, err, pidfile)))
  local stdout, stderr = read_file(out), read_file(err)
  os.remove(out) os.remove(err) os.remove(pidfile)
  if rc ~= 0 then
    local line = stderr:match("([^\n]*dtmask:[^\n]*)") or stderr:match("([^\n]+)%s*$") or ""
    return nil, rc, line ~= "" and line or string.format(_("the helper failed (exit code %d)"), rc)
  end
  local ok, data = pcall(M.json_decode, stdout)
  if not ok then return nil, 1, data end
  return data
end

local function cancel_running()   -- the job bar's cancel button
  if not current then return end
  current.cancelled = true
  if not M.is_windows() then
    local pid = read_file(current.pidfile):match("%d+")
    if pid then os.execute("kill " .. pid) end
  end
end

-- exports ----------------------------------------------------------------------------------------------------

local function find_style(name)
  for i = 1, #dt.styles do
    local s = dt.styles[i]
    if s.name == name then return s end
  end
  return nil
end

local function import_style(path, name)
  dt.styles.import(path)
  local style = find_style(name)
  if not style then error(string.format(_("darktable did not import the style %s"), path), 0) end
  return style
end

local function export_with_style(image, style, path, max_size)
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
  if sidecar and sidecar ~= image.sidecar then os.remove(sidecar) end
  if not ok then error(err, 0) end
  if not M.file_exists(path) then error(string.format(_("darktable could not export %s"), path), 0) end
end

--- the image size the raster mask module expects (after rawprepare's crop), when darktable tells it
function M.raster_size(image)
  local ok, w, h = pcall(function() return image.p_width, image.p_height end)
  if ok and w and w > 0 then return w, h end
  if not image.is_raw then return image.width, image.height end
  return nil
end

local function write_file(path, text)
  local f = io.open(path, "wb")
  if f then f:write(text) f:close() end
end

--- the image's history as a temporary .dtstyle file (nil for an image with no history)
local function history_file(image, tag, temp)
  local name = "dtmask_history_" .. tag
  local style = dt.styles.create(image, name, "dtmask: temporary")
  if not style then return nil end
  local path = nil
  if #style > 0 then
    style:export(dt.configuration.tmp_dir, true)
    path = M.join(dt.configuration.tmp_dir, name .. ".dtstyle")
    temp[#temp + 1] = path
  end
  style:delete()
  return path
end

--- the helper arguments that name an image's masks: the mask folder, the photo's file name and its id
local function photo_args(args, image)
  for _, a in ipairs({ "--mask-dir", M.mask_folder(), "--photo", image.filename, "--image-id", tostring(image.id) }) do
    args[#args + 1] = a
  end
  return args
end

--- one helper run writes every style a selection needs: the preview and guide export styles (the history kept to
--- its lean modules, geometry off) and the styles that attach the mask (`mask_off` first when the name exists);
--- returns their {path=, name=} by kind, and `target`: the mask's name, files, prompts to edit, files it replaces.
--- `opts.name`: the mask's name (nil: the next free default); `opts.edit`: start from its saved prompts
local function prepare(image, scratch, tag, temp, opts)
  local args = photo_args({ "lua", "prepare", "--out-dir", dt.configuration.tmp_dir, "--tag", tag }, image)
  local history = history_file(image, tag, temp)
  if history then table.insert(args, 3, history) end
  if opts.name and opts.name ~= "" then args[#args + 1] = "--name" args[#args + 1] = opts.name end
  if opts.edit then args[#args + 1] = "--edit" end
  local ev = os.getenv("DTMASK_STYLE_EXPOSURE")   -- tests: also blend an exposure through the mask
  if ev and ev ~= "" then args[#args + 1] = "--exposure" args[#args + 1] = ev end
  local styles, rc, msg = M.run_helper(args, scratch)
  if not styles then error(msg, 0) end
  for _, kind in ipairs({ "preview", "guide", "mask", "mask_off" }) do
    if styles[kind] then temp[#temp + 1] = styles[kind].path end
  end
  return styles
end

--- export with a style file into `path`, renamed into place once complete (the picker may be waiting for it)
local function export_into_place(image, style_file, path, max_size)
  local style = import_style(style_file.path, style_file.name)
  local part = path:gsub("%.tif$", "") .. "-part.tif"
  local ok, err = pcall(export_with_style, image, style, part, max_size)
  style:delete()
  if not ok then
    os.remove(part)
    error(err, 0)
  end
  if not os.rename(part, path) then error(string.format(_("cannot rename %s"), part), 0) end
end

--- the exports a pick needs, run in a Lua thread of their own while the picker runs (dt.control.execute yields
--- darktable's Lua lock): the preview first, then the full-resolution guide. A failed export leaves its message
--- in <file>.error, where the waiting picker reads it; `run.stop` skips what has not started.
local function export_all(run)
  for _, e in ipairs(run.exports) do
    if run.stop then break end
    local ok, err = pcall(export_into_place, run.image, e.style, e.path, e.size)
    if not ok then
      write_file(e.path .. ".error", tostring(err):gsub("^dtmask: ", ""))
      break
    end
    M.stage(e.kind)
  end
  run.exporting = false
end

local function start_exports(run)
  run.exporting = true
  dt.control.dispatch(function() export_all(run) end)
end

local function wait_for_exports(run)
  run.stop = true
  while run.exporting do dt.control.sleep(50) end
end

--- refuse a mask whose size is not the raster mask's input (cameras whose pixels darktable rotates or scales)
local function check_raster_size(image, width, height)
  local w, h = M.raster_size(image)
  if w and (width ~= w or height ~= h) then
    error(string.format(_("the export is %dx%d but the raster mask needs %dx%d (this camera's pixels are rotated "
      .. "or scaled); no mask written"), width, height, w, h), 0)
  end
end

-- attaching --------------------------------------------------------------------------------------------------

local function apply_style_file(image, style_file)
  local style = import_style(style_file.path, style_file.name)
  local ok, err = pcall(dt.styles.apply, style, image)
  style:delete()
  if not ok then error(err, 0) end
end

--- attach the target's mask (darktable >= 5.2): a name selected again is switched off with its new file, then
--- on, so that the same instance reads it (darktable adds a new instance otherwise). Then the photo's mask index
--- becomes the one the helper wrote for after this selection (Windows' rename replaces no file), and the replaced
--- version's files go.
local function attach(image, styles)
  local target = styles.target
  if M.can_attach() then
    if styles.mask_off then apply_style_file(image, styles.mask_off) end
    apply_style_file(image, styles.mask)
  end
  if M.is_windows() then os.remove(target.index) end
  if not os.rename(target.index_next, target.index) then
    error(string.format(_("cannot rename %s"), target.index_next), 0)
  end
  for _, f in ipairs(target.replaces) do os.remove(f) end
end

--- a selection that did not end: its new files go, the photo's masks stay as they were
local function discard(target)
  if target then
    for _, f in ipairs({ target.mask, target.prompts, target.index_next }) do os.remove(f) end
  end
end

-- the action -------------------------------------------------------------------------------------------------

M.last = { mask = "", score = nil }
M.listeners = {}   -- functions called with M.last after each mask (the panel's label)

local function selected_model()
  local m = pref("model", "string")
  return (m and m ~= "") and m or nil
end

--- edge feathering in pixels; the panel's slider replaces this (sliders have no change callback)
function M.feather() return tonumber(pref("feather", "integer")) or 0 end

--- append the panel's model and edge feathering to a helper command line
local function add_panel_options(args)
  local model = selected_model()
  if model then args[#args + 1] = "--model" args[#args + 1] = model end
  local feather = math.floor(M.feather())
  if feather > 0 then args[#args + 1] = "--feather" args[#args + 1] = tostring(feather) end
  return args
end

--- the prompts options for a target: save them next to the mask, and start from the saved ones when editing
local function add_prompts_options(args, target)
  args[#args + 1] = "--save-prompts" args[#args + 1] = target.prompts
  if target.edit then args[#args + 1] = "--prompts" args[#args + 1] = target.edit end
  return args
end

--- the picker's command line: it opens on the preview while darktable still exports the guide; the target's
--- mask and prompts files (from prepare); model and edge feathering from the panel
function M.pick_args(preview, guide, target)
  local args = add_panel_options(add_prompts_options({ "pick", preview, "--guide", guide, "--wait",
    tostring(WAIT_SECONDS), "-o", target.mask, "--json" }, target))
  local script = os.getenv("DTMASK_PICK_SCRIPT")   -- tests: scripted prompts in the picker's displayed pixels
  if script and script ~= "" then args[#args + 1] = "--script" args[#args + 1] = script end
  return args
end

--- what the job bar's cancel button does, for scripts and tests: the running helper is stopped, nothing new starts
function M.cancel() cancel_running() end

--- stage hook for benchmarks and tests: M.on_stage(name) is called at "prepared", "preview", "guide", "picked"
--- and "attached" when set
function M.stage(name)
  if M.on_stage then pcall(M.on_stage, name) end
end

local function tell_where(mask, name)
  if M.can_attach() then
    dt.print(string.format(_("dtmask: mask attached as \"external raster mask %s\"; in any module choose "
      .. "blending > raster mask > it. File: %s"), name, mask))
  else
    dt.print(string.format(_("dtmask: mask saved as %s. This darktable (Lua API %s) has no external raster "
      .. "mask module: darktable 5.2 or newer can use it."), mask, dt.configuration.api_version_string))
  end
end

--- pick on `image`: the styles, the exports in a thread of their own, the picker meanwhile, then attach
local function pick(image, tag, scratch, run, opts)
  local styles = prepare(image, scratch, tag, run.temp, opts)
  local target = styles.target
  run.target = target
  local mask = target.mask
  M.stage("prepared")
  run.exports = {
    { kind = "preview", style = styles.preview, path = scratch .. "-preview.tif", size = PREVIEW_SIZE },
    { kind = "guide", style = styles.guide, path = scratch .. "-guide.tif", size = 0 },
  }
  for _, e in ipairs(run.exports) do
    for _, f in ipairs({ e.path, e.path .. ".error" }) do run.temp[#run.temp + 1] = f end
  end
  start_exports(run)
  local result, rc, msg = M.run_helper(M.pick_args(run.exports[1].path, run.exports[2].path, target), scratch)
  wait_for_exports(run)
  if not result then error((rc == 3 or current.cancelled) and _("cancelled") or msg, 0) end
  M.stage("picked")
  check_raster_size(image, result.width, result.height)
  M.last = { mask = mask, score = result.score, name = target.name }
  attach(image, styles)
  if M.can_attach() then M.stage("attached") end
  tell_where(mask, target.name)
end

--- the whole flow for one image; runs until the picker is closed (call it from dt.control.dispatch).
--- `name`: the mask's name (nil: the next free "dtmask N"); a name the image has is replaced in place.
--- `edit`: reopen the picker on that mask's saved prompts.
function M.select_object(image, name, edit)
  if current then
    dt.print(_("dtmask: a selection is already running"))
    return false
  end
  local tag = string.format("%d_%s", image.id, os.date("%Y%m%d-%H%M%S"))
  local scratch = M.join(dt.configuration.tmp_dir, "dtmask-" .. tag)
  current = { pidfile = scratch .. "-pid", cancelled = false }
  local job = dt.gui.create_job(_("dtmask: select object"), true, function() cancel_running() end)
  job.percent = 0.1
  local run = { image = image, exports = {}, temp = {}, exporting = false }
  local ok, err = pcall(pick, image, tag, scratch, run, { name = name, edit = edit })
  wait_for_exports(run)   -- nothing is removed while darktable still writes it
  for _, f in ipairs(run.temp) do os.remove(f) end
  if not ok then discard(run.target) end   -- a cancelled or failed run leaves no stray mask
  job.valid = false
  current = nil
  if not ok then
    local message = tostring(err):gsub("^dtmask: ", "")
    dt.print("dtmask: " .. message)
    if message ~= _("cancelled") then dt.print_error("dtmask: " .. message) end   -- a cancel is no error
  end
  for _, fn in ipairs(M.listeners) do pcall(fn, M.last) end
  return ok
end

--- the image the user means: the one in the darkroom, else the first hovered/selected one
local function target_image()
  if dt.gui.current_view() == dt.gui.views.darkroom then
    local ok, img = pcall(dt.gui.views.darkroom.display_image)
    if ok and img then return img end
  end
  local images = dt.gui.action_images
  return images and images[1] or nil
end

--- the mask name typed in the panel (nil: the next free default)
function M.panel_name() return nil end

--- select (edit: reopen on its saved prompts) the mask named in the panel on the image the user means
function M.action(edit)
  local image = target_image()
  if not image then
    dt.print(_("dtmask: open an image in the darkroom first"))
    return
  end
  local name = M.panel_name()
  if edit and not name then
    dt.print(_("dtmask: choose the mask to edit in the panel's list"))
    return
  end
  dt.control.dispatch(function() M.select_object(image, name, edit) end)
end

-- subject masks for many images ------------------------------------------------------------------------------

--- the helper's command line for one subject mask: model and edge feathering from the panel
function M.subject_args(raster_tif, target)
  return add_panel_options(add_prompts_options({ "segment", raster_tif, "--subject", "-o", target.mask, "--json" },
    target))
end

--- one image's subject mask, as select_object makes a picked one: the guide export, the helper's
--- `segment --subject` on it, attach; returns the mask file. Call inside M.for_each_image (it sets `current`).
function M.subject_mask(image, tag)
  local scratch = M.join(dt.configuration.tmp_dir, "dtmask-" .. tag)
  current.pidfile = scratch .. "-pid"
  local temp, target = {}, nil
  local ok, result = pcall(function()
    local styles = prepare(image, scratch, tag, temp, {})
    target = styles.target
    local guide = scratch .. "-guide.tif"
    temp[#temp + 1] = guide
    export_into_place(image, styles.guide, guide, 0)
    if current.cancelled then error(_("cancelled"), 0) end
    local out, rc, msg = M.run_helper(M.subject_args(guide, target), scratch)
    if not out then error((rc == 3 or current.cancelled) and _("cancelled") or msg, 0) end
    check_raster_size(image, out.width, out.height)
    attach(image, styles)
    M.last = { mask = target.mask, score = out.score, name = target.name }
    return target.mask
  end)
  for _, f in ipairs(temp) do os.remove(f) end
  if not ok then
    discard(target)
    error(result, 0)
  end
  return result
end

--- run fn(image, tag) on each image in one darktable job with progress and a cancel button; a failing image is
--- reported and skipped. Returns the number done, the failures ({image=, message=}) and whether it was cancelled.
function M.for_each_image(images, title, fn)
  if current then
    dt.print(_("dtmask: a selection is already running"))
    return nil
  end
  current = { pidfile = "", cancelled = false }
  local job = dt.gui.create_job(title, true, function() cancel_running() end)
  local stamp = os.date("%Y%m%d-%H%M%S")
  local done, failed = 0, {}
  for i, image in ipairs(images) do
    if current.cancelled then break end
    job.percent = (i - 1) / #images
    local ok, err = pcall(fn, image, string.format("%d_%s", image.id, stamp))
    if ok then
      done = done + 1
    elseif current.cancelled then
      break
    else
      local message = tostring(err):gsub("^dtmask: ", "")
      failed[#failed + 1] = { image = image, message = message }
      dt.print_error(string.format("dtmask: %s: %s", image.filename, message))
    end
  end
  job.percent = 1
  job.valid = false
  local cancelled = current.cancelled
  current = nil
  return done, failed, cancelled
end

--- the one-line summary of a run over many images
function M.summary(title, total, done, failed, cancelled)
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

--- lighttable: subject masks for the selected images, attached on darktable >= 5.2
function M.subject_masks(images)
  local title = _("dtmask: subject masks")
  local done, failed, cancelled = M.for_each_image(images, title, M.subject_mask)
  if done == nil then return false end
  local text = M.summary(title, #images, done, failed, cancelled)
  if done > 0 then
    text = text .. (M.can_attach() and _("; attached as \"external raster mask dtmask N\"")
      or string.format(_("; saved in %s"), M.mask_folder()))
  end
  dt.print(text)
  for _, fn in ipairs(M.listeners) do pcall(fn, M.last) end
  return #failed == 0 and not cancelled
end

function M.subject_action()
  local selected = dt.gui.action_images
  local images = {}
  for i = 1, (selected and #selected or 0) do images[i] = selected[i] end  -- the selection may change meanwhile
  if #images == 0 then
    dt.print(_("dtmask: select images in the lighttable first"))
    return
  end
  dt.control.dispatch(function() M.subject_masks(images) end)
end

-- the masks an image has --------------------------------------------------------------------------------------

--- the image's masks from the helper's index: {masks = {{name=, mask=, prompts=, instance=}, ...}, next = name}
function M.masks(image)
  local out, _, msg = M.run_helper(photo_args({ "lua", "masks" }, image),
    M.join(dt.configuration.tmp_dir, "dtmask-masks-" .. image.id))
  if not out then error(msg, 0) end
  return out
end

--- remove the mask `name` from `image`: its files are deleted and (darktable >= 5.2) its instance switched off;
--- the image's other masks are untouched. Returns true on success.
function M.remove_mask(image, name)
  local tag = string.format("%d_%s", image.id, os.date("%Y%m%d-%H%M%S"))
  local scratch = M.join(dt.configuration.tmp_dir, "dtmask-" .. tag)
  local ok, err = pcall(function()
    local out, _, msg = M.run_helper(photo_args({ "lua", "masks", "--remove", name, "--out-dir",
      dt.configuration.tmp_dir, "--tag", tag }, image), scratch)
    if not out then error(msg, 0) end
    local applied, aerr = true, nil
    if M.can_attach() then applied, aerr = pcall(apply_style_file, image, out.off) end
    os.remove(out.off.path)
    if not applied then error(aerr, 0) end
  end)
  if not ok then dt.print("dtmask: " .. tostring(err):gsub("^dtmask: ", "")) end
  for _, fn in ipairs(M.listeners) do pcall(fn, M.last) end
  return ok
end

-- user interface ---------------------------------------------------------------------------------------------

local ui = { registered = false }

local function fill_models()
  local list = M.run_helper({ "models", "list", "--json" }, M.join(dt.configuration.tmp_dir, "dtmask-models"))
  if type(list) ~= "table" then return end
  if list.models then list = list.models end
  local chosen = selected_model()
  local index = 1
  for i, m in ipairs(list) do
    ui.models[i] = m.id
    if m.id == chosen or (not chosen and m.default) then index = i end
  end
  ui.model_ids = list
  if #list > 0 then ui.models.selected = index end
end

--- the panel's list of the masks of the image the user means, and its name entry's hint
local function show_masks(image)
  image = image or target_image()
  if not (ui.masks and image) then return end
  local ok, found = pcall(M.masks, image)
  if not ok then return end
  local names = { "" }
  for _, m in ipairs(found.masks) do names[#names + 1] = m.name end
  for i = 1, math.max(#ui.masks, #names) do ui.masks[i] = names[i] end
  ui.name.placeholder = found.next
end

local function show_last(last)
  if ui.last then
    ui.last.label = last.mask ~= "" and string.format(_("last mask: %s (score %.2f)"),
      last.mask:match("[^/\\]+$"), tonumber(last.score) or 0) or _("no mask yet")
  end
end

local MASKS_EVENT = MODULE .. "_masks"   -- the panel's list follows the image in the darkroom

--- the panel's name entry, the image's mask list and its edit and remove buttons
local function build_mask_widgets()
  ui.name = dt.new_widget("entry") {
    text = "", placeholder = "dtmask 1",
    tooltip = _("the mask's name: a new name adds a mask, a name the image has replaces that mask (empty: the "
      .. "next free \"dtmask N\")"),
  }
  M.panel_name = function()
    local text = ui.name.text
    return (text and text ~= "") and text or nil
  end
  ui.masks = dt.new_widget("combobox") {
    label = _("masks"), tooltip = _("the masks this image has: choose one to replace, edit or remove it"),
    changed_callback = function(self) ui.name.text = self.value or "" end,
    "",
  }
  ui.edit = dt.new_widget("button") {
    label = _("edit mask"), tooltip = _("reopen the picker on the chosen mask's clicks"),
    clicked_callback = function() M.action(true) end,
  }
  ui.remove = dt.new_widget("button") {
    label = _("remove mask"), tooltip = _("delete the chosen mask (its instance is switched off)"),
    clicked_callback = function()
      local image, name = target_image(), M.panel_name()
      if image and name then dt.control.dispatch(function() M.remove_mask(image, name) end) end
    end,
  }
end

local function build_ui()
  ui.button = dt.new_widget("button") {
    label = _("select object"),
    tooltip = _("open the picker on this image and make a raster mask of the object you click"),
    clicked_callback = function() M.action() end,
  }
  ui.models = dt.new_widget("combobox") {
    label = _("model"),
    tooltip = _("segmentation model (dtmask models list)"),
    changed_callback = function(self)
      if self.value and self.value ~= "" then dt.preferences.write(MODULE, "model", "string", self.value) end
    end,
    "",
  }
  ui.feather = dt.new_widget("slider") {
    label = _("feather edge"),
    tooltip = _("soften the mask edge by about this many pixels"),
    soft_min = 0, soft_max = 20, hard_min = 0, hard_max = 100, step = 1, digits = 0,
    value = tonumber(pref("feather", "integer")) or 0,
  }
  M.feather = function()
    local value = tonumber(ui.feather.value) or 0
    dt.preferences.write(MODULE, "feather", "integer", math.floor(value))
    return value
  end
  build_mask_widgets()
  ui.subject = dt.new_widget("button") {
    label = _("subject masks for selected images"),
    tooltip = _("mask the main subject of each selected image, no clicks (a job you can cancel)"),
    clicked_callback = function() M.subject_action() end,
  }
  ui.last = dt.new_widget("label") { label = _("no mask yet"), ellipsize = "middle" }
  M.listeners[#M.listeners + 1] = show_last
  M.listeners[#M.listeners + 1] = function() show_masks() end
  dt.register_event(MASKS_EVENT, "darkroom-image-loaded", function(_, clean, image)
    if clean then dt.control.dispatch(show_masks, image) end
  end)
  dt.register_lib(MODULE, _("AI object mask"), true, false,
    { [dt.gui.views.lighttable] = { "DT_UI_CONTAINER_PANEL_RIGHT_CENTER", 100 },
      [dt.gui.views.darkroom] = { "DT_UI_CONTAINER_PANEL_LEFT_CENTER", 100 } },
    dt.new_widget("box") { orientation = "vertical", ui.name, ui.button, ui.masks, ui.edit, ui.remove, ui.subject,
      ui.models, ui.feather, ui.last },
    nil, nil)
  ui.registered = true
  dt.control.dispatch(fill_models)
end

local SUBJECT_EVENT = MODULE .. "_subject"

local function register_shortcut()
  dt.register_event(MODULE, "shortcut", function() M.action() end, _("dtmask: select object"))
  dt.register_event(SUBJECT_EVENT, "shortcut", function() M.subject_action() end,
    _("dtmask: subject masks for selected images"))
end

-- script_manager integration ---------------------------------------------------------------------------------

local function set_visible(visible)
  if ui.registered then dt.gui.libs[MODULE].visible = visible end
end

local function destroy()
  if ui.registered then pcall(dt.destroy_event, MASKS_EVENT, "darkroom-image-loaded") end
  dt.destroy_event(SUBJECT_EVENT, "shortcut")
  dt.destroy_event(MODULE, "shortcut")
  set_visible(false)
end

local function restart()
  register_shortcut()
  set_visible(true)
end

local function show()
  set_visible(true)
end

-- start ------------------------------------------------------------------------------------------------------

if du then
  du.check_min_api_version(MIN_API, MODULE)
elseif M.compare_versions(dt.configuration.api_version_string, MIN_API) < 0 then
  dt.print(string.format("dtmask needs darktable 4.2 or newer (Lua API %s)", MIN_API))
  error("dtmask: Lua API " .. MIN_API .. " or newer required", 0)
end

dt.preferences.register(MODULE, "mask_folder", "string", _("dtmask: mask folder"),
  _("folder for masks; empty: dtmask/ below darktable's raster mask folder"), "")
dt.preferences.register(MODULE, "helper", "file", _("dtmask: helper program"),
  _("the dtmask program; empty: found on PATH or in ~/.local/bin"), "")

-- Registering a panel while darktable starts straight into the darkroom (`darktable photo.raw`) crashes
-- darktable 4.2; like lua-scripts' own scripts, build it in the lighttable, or on the first visit there.
local function build_ui_in_lighttable()
  if dt.gui.current_view() == dt.gui.views.lighttable then
    build_ui()
    return
  end
  dt.register_event(MODULE, "view-changed", function(_, _, new_view)
    if new_view == dt.gui.views.lighttable and not ui.registered then
      build_ui()
    end
  end)
end

if dt.gui and dt.gui.current_view and os.getenv("DTMASK_NO_UI") ~= "1" then
  build_ui_in_lighttable()
end
register_shortcut()

local script_data = {}
script_data.metadata = {
  name = "dtmask",
  purpose = _("AI object masks for the external raster mask module"),
  author = "the dtmask authors",
  help = "https://pypi.org/project/dtmask/",
}
script_data.destroy = destroy
script_data.destroy_method = "hide"
script_data.restart = restart
script_data.show = show
script_data.dtmask = M

return script_data
