-- A stand-in for darktable's Lua API: just what lua/dtmask.lua touches when it loads, recording registrations.
local fake = {
  configuration = { api_version_string = os.getenv("FAKE_API") or "9.0.0",
                    running_os = os.getenv("FAKE_OS") or "linux",
                    tmp_dir = os.getenv("FAKE_TMP") or "/tmp", config_dir = os.getenv("FAKE_CONFIG") or "/tmp" },
  registered = { events = {}, libs = {}, prefs = {} },
  printed = {},
  prefs = {},
}
fake.gettext = { gettext = function(s) return s end }
function fake.print(s) fake.printed[#fake.printed + 1] = s end
function fake.print_error(s) fake.printed[#fake.printed + 1] = s end
function fake.print_log() end
fake.preferences = {
  register = function(script, name, kind, label) fake.registered.prefs[#fake.registered.prefs + 1] = name end,
  read = function(script, name, kind) return fake.prefs[script .. "/" .. name] or "" end,
  write = function(script, name, kind, value) fake.prefs[script .. "/" .. name] = value end,
}
function fake.register_event(name, kind, fn, label)
  fake.registered.events[#fake.registered.events + 1] = { name = name, kind = kind, fn = fn, label = label }
end
function fake.destroy_event(name, kind) fake.registered.destroyed = name .. "/" .. kind end
function fake.register_lib(name, label, expandable, resettable, views, widget)
  fake.registered.libs[#fake.registered.libs + 1] = label
  fake.registered.widgets = widget
end

--- a combobox as darktable's (src/lua/widget/combobox.c): [k] = nil removes entry k and shifts the rest down,
--- an index past the end + 1 is an error
local function combobox(props)
  local entries = {}
  for i, v in ipairs(props) do entries[i] = v end
  for i = #props, 1, -1 do props[i] = nil end
  return setmetatable(props, {
    __len = function() return #entries end,
    __index = function(_, k) return entries[k] end,
    __newindex = function(t, k, v)
      if math.type(k) ~= "integer" then rawset(t, k, v) return end
      if k < 1 or k > #entries + (v == nil and 0 or 1) then error("Invalid index for combobox") end
      if v == nil then table.remove(entries, k) else entries[k] = v end
    end,
  })
end

function fake.new_widget(kind)
  return function(props)
    props.kind = kind
    return kind == "combobox" and combobox(props) or props
  end
end
fake.gui = {
  views = { darkroom = { id = "darkroom" }, lighttable = { id = "lighttable" } },
  libs = setmetatable({}, { __index = function(t, k) local v = { visible = true } rawset(t, k, v) return v end }),
  current_view = function() return fake.gui.views.lighttable end,
  action_images = {},
}
fake.jobs = {}
function fake.gui.create_job(text, percentage, cancel)
  local job = { text = text, percentage = percentage, cancel = cancel, percent = 0, valid = true, percents = {} }
  fake.jobs[#fake.jobs + 1] = job
  return setmetatable({}, {
    __index = job,
    __newindex = function(_, k, v)
      if k == "percent" then job.percents[#job.percents + 1] = v end
      job[k] = v
    end,
  })
end
fake.control = { dispatch = function(fn, ...) fn(...) end, execute = function() return 0 end, sleep = function() end }
return fake
